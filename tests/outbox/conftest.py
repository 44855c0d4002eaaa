"""The outbox tests use the recovery tests' helpers."""

from tests.recovery.conftest import _settings, quiet_cart, shop  # noqa: F401  (fixtures)
