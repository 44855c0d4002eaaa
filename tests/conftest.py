"""Test fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL)
migrated once with Flask-Migrate, emptied after every test."""

import email
import email.policy
import os
import re
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from config import TestConfig
from dashboard import create_app
from dashboard.audit.service import Actor
from dashboard.auth.service import create_staff
from dashboard.extensions import db
from dashboard.incomplete_orders.service import CartSnapshot, ItemSnapshot, apply_snapshot
from dashboard.timeutil import utcnow

PASSWORD = "correct-horse-battery"


def _database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = _database_url(tmp_path_factory)
        WTF_CSRF_ENABLED = False

    app = create_app(Config)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _clean_database(app):
    yield
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_staff(app):
    def make(role="agent", email=None):
        with app.app_context():
            staff = create_staff(
                email or f"{role}@example.com", role, PASSWORD, Actor.system("test")
            )
            db.session.commit()
            return staff.id

    return make


@pytest.fixture
def login(client, make_staff):
    """Sign the test client in as a new staff member with `role`; returns the staff id."""

    def sign_in(role="agent", email=None):
        email = email or f"{role}@example.com"
        staff_id = make_staff(role, email)
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.text
        return staff_id

    return sign_in


_counter = iter(range(1, 10_000_000))


def snapshot(**overrides):
    """A storefront cart snapshot with sensible defaults."""
    n = next(_counter)
    values = {
        "cart_id": f"cart-{n}",
        "currency": "EUR",
        "snapshot_at": utcnow() - timedelta(hours=2),
        "stage": "checkout",
        "customer_id": None,
        "guest_session": f"guest-{n}",
        "email": f"customer{n}@example.com",
        "phone": "+49 170 1234567",
        "name": f"Customer {n}",
        "items": [
            ItemSnapshot("SKU-1", "Linen shirt", 2, 2500),
            ItemSnapshot("SKU-2", "Belt", 1, 1000),
        ],
    }
    values.update(overrides)
    return CartSnapshot(**values)


@pytest.fixture
def make_incomplete_order(app):
    """Create an incomplete order through the storefront snapshot service; returns its id."""

    def make(status="open", **overrides):
        with app.app_context():
            order, _ = apply_snapshot(snapshot(**overrides), Actor.system("test"))
            if status != "open":
                order.status = status
            db.session.commit()
            return order.id

    return make


def csrf_token_from(html):
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


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


@pytest.fixture
def smtp_server(app):
    """Deliver the app's email over SMTP to a real server on loopback for this test."""
    server = SmtpServer()
    server.start()
    mail = app.extensions["mail"]
    saved_config = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT")}
    saved_mail = {k: getattr(mail, k) for k in ("server", "port", "suppress")}
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER=server.host, MAIL_PORT=server.port)
    mail.server, mail.port, mail.suppress = server.host, server.port, False
    yield server
    server.stop()
    app.config.update(saved_config)
    for name, value in saved_mail.items():
        setattr(mail, name, value)
