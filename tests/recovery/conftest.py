"""Helpers for the recovery and outbox tests: simulated time, the database as the tests
look at it, and a storefront speaking the API with a real key."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.api_keys.service import issue_key
from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.outbox.delivery import deliver_due
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.recovery.queries import ledger
from dashboard.recovery.runner import run_recovery
from dashboard.timeutil import utcnow
from tests.api.conftest import Api

JOB = Actor.system("test-recovery")
NOTHING = {"sent": 0, "retry": 0, "failed": 0, "withdrawn": 0}
# The settings these tests count on, whatever the environment says.
SETTINGS = {
    "SHOP_NAME": "Reclaim Demo Shop",
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "RECOVERY_RESTORE_URL": "http://localhost:8000/cart/restore?cart={cart_id}",
    "RECOVERY_DELAYS_HOURS": [1, 24, 72],
    "RECOVERY_MAX_ATTEMPTS": 3,
    "RECOVERY_MIN_CART_VALUE": 0,
    "RESTORE_LINK_DAYS": 30,
    "EXPIRE_AFTER_DAYS": 30,
    "RETENTION_DAYS": 180,
    "OUTBOX_MAX_ATTEMPTS": 8,
}


def hours(n):
    return timedelta(hours=n)


class Shop:
    """The database, each call in an application context of its own.

    No transaction stays open between calls (on SQLite an open one blocks every other
    writer), and the test client's requests never share the test's session or `g`.
    Returned rows are detached, with their columns loaded.
    """

    def __init__(self, app):
        self.app = app

    def run(self, now, **kwargs):
        """One recovery run at the simulated time `now`."""
        with self.app.app_context():
            result = run_recovery(JOB, now=now, **kwargs)
            db.session.commit()
            return result

    def deliver(self, now=None):
        with self.app.app_context():
            return deliver_due(now=now)

    def outbox(self, cart_id=None):
        """Outbox rows (of one cart's recovery emails, if given), oldest first."""
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if cart_id is not None:
            stmt = stmt.where(
                OutboxMessage.record_type == "incomplete_order",
                OutboxMessage.record_id == cart_id,
            )
        with self.app.app_context():
            return db.session.scalars(stmt).all()

    def message(self, message_id):
        with self.app.app_context():
            return db.session.get(OutboxMessage, message_id)

    def steps(self, cart_id):
        """The recovery attempts written for a cart, by step."""
        with self.app.app_context():
            return db.session.scalars(
                select(RecoveryAttempt)
                .where(RecoveryAttempt.incomplete_order_id == cart_id)
                .order_by(RecoveryAttempt.step)
            ).all()

    def cart(self, cart_id):
        with self.app.app_context():
            return db.session.get(IncompleteOrder, cart_id)

    def a_minute_passes(self, cart_id):
        """Move the cart's last recovery email two minutes into the past."""
        cart = self.cart(cart_id)
        self.update_cart(
            cart_id, recovery_last_sent_at=cart.recovery_last_sent_at - timedelta(minutes=2)
        )

    def update_cart(self, cart_id, **values):
        with self.app.app_context():
            cart = db.session.get(IncompleteOrder, cart_id)
            for name, value in values.items():
                setattr(cart, name, value)
            db.session.commit()

    def order(self, **where):
        with self.app.app_context():
            return db.session.scalar(select(Order).filter_by(**where))

    def ledger(self, cart_id, now=None):
        with self.app.app_context():
            return ledger(db.session.get(IncompleteOrder, cart_id), now=now)

    def events(self, action):
        with self.app.app_context():
            return db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).all()

    def rows(self, model):
        with self.app.app_context():
            return db.session.scalars(select(model)).all()

    def count(self, model):
        return len(self.rows(model))


@pytest.fixture(autouse=True)
def _settings(app, monkeypatch):
    for name, value in SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)


@pytest.fixture
def shop(app):
    return Shop(app)


@pytest.fixture
def quiet_cart(make_incomplete_order, shop):
    """A cart whose last activity was `hours_ago` hours ago: (id, that moment)."""

    def make(hours_ago=100, **overrides):
        cart_id = make_incomplete_order(snapshot_at=utcnow() - hours(hours_ago), **overrides)
        return cart_id, shop.cart(cart_id).last_activity_at

    return make


@pytest.fixture
def storefront(app, client, make_staff):
    """The storefront: the test client with a real API key issued by a manager."""
    manager_id = make_staff("manager", "key-owner@example.com")
    with app.app_context():
        manager = db.session.get(Staff, manager_id)
        _key, plaintext = issue_key("Storefront", Actor.staff(manager), manager)
        db.session.commit()
    return Api(client, plaintext)
