"""Helpers the tests share: the storefront API client, the database as the tests look at it,
a real SMTP server on loopback, waiting for another thread or process, reading a page.

Plain classes and functions, importable from any test package: `from tests.helpers import
Api`. Fixtures that build them live in tests/fixtures/.
"""

import email
import email.policy
import os
import re
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.outbox.delivery import deliver_due
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.recovery.queries import ledger
from dashboard.recovery.runner import run_recovery
from tests.factories import JOB, cart_body, order_body

# Screenshots of the browser tests (and of their failures) go here, outside the project:
# TEST_ARTIFACTS names another folder (a CI job's artifacts, say).
ARTIFACTS = Path(
    os.environ.get("TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "reclaim-test-artifacts"
)


def csrf_token_from(html):
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


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


def audit_events(app, action=None):
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return db.session.scalars(query).all()


def row_count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


class Api:
    """The test client, speaking to /api/v1 with a bearer key."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def request(self, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put_cart(self, cart_id, **overrides):
        return self.put(f"/incomplete-orders/{cart_id}", json=cart_body(**overrides))

    def post_order(self, **overrides):
        return self.post("/orders", json=order_body(**overrides))


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


class SmtpServer:
    """A real SMTP server on loopback (aiosmtpd) that records what it receives.

    `answer("451 try later")` makes it refuse messages with that reply (at DATA, or at
    RCPT with at="rcpt") until `accept()`; `stop()` takes it down (connections are
    refused) and `start()` brings it back on the same port.
    """

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.host = "127.0.0.1"
        self.received = []  # (envelope sender, envelope recipients, parsed message)
        self.raw = []  # the bytes of each message as they came
        self.reply, self.reply_at = None, "data"
        self._controller = None

    @property
    def messages(self):
        return [message for _, _, message in self.received]

    def answer(self, reply, at="data"):
        self.reply, self.reply_at = reply, at

    def accept(self):
        self.reply = None

    def start(self):
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reply and self.reply_at == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reply and self.reply_at == "data":
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        self.raw.append(envelope.original_content)
        return "250 Message accepted for delivery"
