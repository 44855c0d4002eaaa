"""Helpers for the job tests: carts that are due a recovery email, and waiting for
something another thread or process does."""

import time
from datetime import timedelta

import pytest

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.service import apply_snapshot
from dashboard.timeutil import utcnow
from tests.conftest import snapshot


@pytest.fixture
def due_carts(app):
    """Create `count` open carts with an email, quiet for `days` days, so step 1 is due.

    One transaction for all of them; returns {incomplete order id: email}.
    """

    def make(count, days=2):
        quiet_since = utcnow() - timedelta(days=days)
        with app.app_context():
            carts = [
                apply_snapshot(snapshot(snapshot_at=quiet_since), Actor.system("test"))[0]
                for _ in range(count)
            ]
            db.session.commit()
            return {cart.id: cart.email for cart in carts}

    return make


def wait_for(condition, timeout, what, interval=0.1):
    """Call `condition` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}, in vain")
        time.sleep(interval)
