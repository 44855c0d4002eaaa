"""Helpers for the recovery tests: simulated time, runs that commit, the outbox as rows,
and a storefront speaking the API with a real key."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.api_keys.service import issue_key
from dashboard.audit.service import Actor
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import deliver_due
from dashboard.recovery.models import RecoveryAttempt
from dashboard.recovery.service import send_due
from dashboard.timeutil import utcnow
from tests.api.conftest import Api

JOB = Actor.system("test-recovery")


def hours(n):
    return timedelta(hours=n)


def days_ago(n):
    """A moment `n` days before now: carts made to have gone quiet then."""
    return utcnow() - timedelta(days=n)


def run(now, **kwargs):
    """One recovery run at the simulated time `now`; ends its transaction."""
    result = send_due(JOB, now=now, **kwargs)
    db.session.commit()
    return result


def deliver(now):
    counts = deliver_due(now=now)
    db.session.commit()
    return counts


def outbox(cart_id=None):
    """Outbox rows (of one cart's recovery emails, if given), oldest first."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if cart_id is not None:
        stmt = stmt.where(
            OutboxMessage.record_type == "incomplete_order", OutboxMessage.record_id == cart_id
        )
    rows = db.session.scalars(stmt).all()
    db.session.commit()
    return rows


def sent_steps(cart_id):
    """(step, sent_at) of the recovery attempts written for a cart."""
    rows = db.session.execute(
        select(RecoveryAttempt.step, RecoveryAttempt.sent_at)
        .where(RecoveryAttempt.incomplete_order_id == cart_id)
        .order_by(RecoveryAttempt.step)
    ).all()
    db.session.commit()
    return [tuple(row) for row in rows]


def cart(cart_id):
    return db.session.get(IncompleteOrder, cart_id)


def last_activity(cart_id):
    value = cart(cart_id).last_activity_at
    db.session.commit()
    return value


@pytest.fixture
def storefront(app, client, make_staff):
    """The storefront: the test client with a real API key issued by a manager."""
    manager_id = make_staff("manager", "key-owner@example.com")
    with app.app_context():
        manager = db.session.get(Staff, manager_id)
        _key, plaintext = issue_key("Storefront", Actor.staff(manager), manager)
        db.session.commit()
    return Api(client, plaintext)
