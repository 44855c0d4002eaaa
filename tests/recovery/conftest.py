"""Every recovery test runs with the settings it counts on (tests.factories.SETTINGS)."""

import pytest


@pytest.fixture(autouse=True)
def _settings(recovery_settings):
    pass
