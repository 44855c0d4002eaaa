"""Every return test runs with the settings it counts on (tests.factories.RETURN_SETTINGS)."""

import pytest


@pytest.fixture(autouse=True)
def _return_settings(return_settings):
    pass
