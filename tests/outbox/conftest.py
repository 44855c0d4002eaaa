"""Every outbox test runs with the recovery settings it counts on (tests.factories.SETTINGS)."""

import pytest


@pytest.fixture(autouse=True)
def _settings(recovery_settings):
    pass
