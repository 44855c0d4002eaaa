"""Delivering the outbox to a real SMTP server: retries with backoff while the server is
down or says "later", failure on a permanent refusal, claims of dead processes, and a
timeout for a server that never answers."""

import socket
import threading
import time
from datetime import timedelta

import pytest

from dashboard.extensions import db
from dashboard.outbox.delivery import deliver_due
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.recovery import emails
from dashboard.timeutil import utcnow
from tests.factories import NOTHING, hours


def queue(app, *recipients, now=None):
    """Write one email per recipient to the outbox; returns their ids."""
    now = now or utcnow()
    with app.app_context():
        insert_ignoring_duplicates(
            [
                outbox_row(
                    "order_confirmation",
                    f"test:{to}",
                    to,
                    f"Hello {to}",
                    f"Text for {to}",
                    f"<p>HTML for {to}</p>",
                    now=now,
                )
                for to in recipients
            ]
        )
        db.session.commit()
        return [m.id for m in db.session.query(OutboxMessage).order_by(OutboxMessage.id)]


def recipients(smtp_server):
    return sorted(to for _, tos, _ in smtp_server.received for to in tos)


def test_while_the_server_is_down_messages_wait_and_go_once_it_is_back(app, shop, smtp_server):
    now = utcnow()
    ids = queue(app, "a@example.com", "b@example.com", now=now)
    smtp_server.stop()

    assert shop.deliver(now) == {**NOTHING, "retry": 2}
    for message_id in ids:
        message = shop.message(message_id)
        assert message.status == "queued" and message.attempts == 1
        assert "Connection refused" in message.last_error or "Errno 111" in message.last_error
        assert message.next_attempt_at > now + timedelta(seconds=30)  # backoff
        assert message.sent_at is None and message.claimed_until is None

    smtp_server.start()
    assert shop.deliver(now) == NOTHING  # not yet: each waits its backoff
    assert smtp_server.received == []

    later = now + timedelta(minutes=2)
    assert shop.deliver(later) == {**NOTHING, "sent": 2}
    assert shop.deliver(later + timedelta(hours=1)) == NOTHING
    assert recipients(smtp_server) == ["a@example.com", "b@example.com"]
    for message_id in ids:
        message = shop.message(message_id)
        assert (message.status, message.attempts) == ("sent", 2)
        assert message.sent_at is not None and message.last_error is None


def test_an_email_arrives_with_crlf_lines_and_its_non_ascii_text_intact(app, shop, smtp_server):
    with app.app_context():
        insert_ignoring_duplicates(
            [
                outbox_row(
                    "order_confirmation",
                    "test:umlauts",
                    "zoe@example.com",
                    "Ihre Bestellung bei Café Süd — 12,50 €",
                    "Grüße aus Köln.\nSumme: 12,50 €\n",
                    "<p>Grüße aus Köln. Summe: <b>12,50 €</b></p>",
                    headers={"List-Unsubscribe": "<http://127.0.0.1:5000/u/" + "x" * 120 + ">"},
                )
            ]
        )
        db.session.commit()
    assert shop.deliver() == {**NOTHING, "sent": 1}

    (received,) = smtp_server.messages
    assert received["Subject"] == "Ihre Bestellung bei Café Süd — 12,50 €"
    assert received["To"] == "zoe@example.com"
    text = received.get_body(("plain",)).get_content()
    assert text.splitlines() == ["Grüße aus Köln.", "Summe: 12,50 €"]
    assert "<b>12,50 €</b>" in received.get_body(("html",)).get_content()
    assert received["List-Unsubscribe"] == "<http://127.0.0.1:5000/u/" + "x" * 120 + ">"
    (raw,) = smtp_server.raw
    assert raw.count(b"\n") == raw.count(b"\r\n")  # no bare line feeds on the wire
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_an_address_that_cannot_go_on_the_wire_fails_alone_and_says_why(app, shop, smtp_server):
    now = utcnow()
    first, unicode, last = queue(app, "a@example.com", "zoë@example.com", "c@example.com", now=now)
    assert shop.deliver(now) == {**NOTHING, "sent": 2, "failed": 1}
    assert recipients(smtp_server) == ["a@example.com", "c@example.com"]
    message = shop.message(unicode)
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error.startswith("Cannot be sent: only ASCII addresses can be sent to")


def test_a_line_break_in_a_header_fails_the_email_alone(app, shop, smtp_server):
    with app.app_context():
        row = outbox_row("order_confirmation", "test:header", "a@example.com", "Hi\nBcc: x@y")
        insert_ignoring_duplicates([{**row, "body_text": "text", "body_html": "<p>html</p>"}])
        db.session.commit()
    queue(app, "b@example.com")
    assert shop.deliver() == {**NOTHING, "sent": 1, "failed": 1}
    assert recipients(smtp_server) == ["b@example.com"]
    (broken,) = [m for m in shop.outbox() if m.dedupe_key == "test:header"]
    assert broken.status == "failed" and "line break" in broken.last_error


def test_backoff_grows_with_each_attempt(app, shop, smtp_server):
    now = utcnow()
    (message_id,) = queue(app, "a@example.com", now=now)
    smtp_server.stop()
    waits = []
    for _ in range(3):
        before = utcnow()
        shop.deliver(now)
        waits.append(shop.message(message_id).next_attempt_at - before)
        now = shop.message(message_id).next_attempt_at
    assert waits[0] < waits[1] < waits[2]


def test_a_temporary_refusal_is_retried(app, shop, smtp_server):
    now = utcnow()
    (message_id,) = queue(app, "a@example.com", now=now)
    smtp_server.answer("451 try later")

    assert shop.deliver(now) == {**NOTHING, "retry": 1}
    message = shop.message(message_id)
    assert (message.status, message.last_error) == ("queued", "451 try later")
    assert message.next_attempt_at > now

    smtp_server.accept()
    assert shop.deliver(now + timedelta(minutes=2)) == {**NOTHING, "sent": 1}
    assert recipients(smtp_server) == ["a@example.com"]


def test_a_permanent_refusal_fails_with_the_servers_answer(app, shop, smtp_server):
    now = utcnow()
    (message_id,) = queue(app, "nobody@example.com", now=now)
    smtp_server.answer("550 no such user", at="rcpt")

    assert shop.deliver(now) == {**NOTHING, "failed": 1}
    message = shop.message(message_id)
    assert message.status == "failed"
    assert "550 no such user" in message.last_error
    assert shop.deliver(now + timedelta(days=1)) == NOTHING  # left alone from now on
    assert smtp_server.received == []


def test_a_permanent_refusal_of_the_data_fails_too(app, shop, smtp_server):
    (message_id,) = queue(app, "a@example.com")
    smtp_server.answer("554 message refused")
    assert shop.deliver() == {**NOTHING, "failed": 1}
    assert shop.message(message_id).last_error == "554 message refused"


def test_temporary_refusals_fail_after_the_last_attempt(app, shop, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    now = utcnow()
    (message_id,) = queue(app, "a@example.com", now=now)
    smtp_server.answer("451 try later")
    assert shop.deliver(now) == {**NOTHING, "retry": 1}
    assert shop.deliver(now + timedelta(hours=1)) == {**NOTHING, "failed": 1}
    message = shop.message(message_id)
    assert (message.status, message.attempts, message.last_error) == ("failed", 2, "451 try later")


def test_one_refusal_does_not_hold_up_the_others(app, shop, smtp_server):
    queue(app, "a@example.com", "b@example.com", "c@example.com")
    refused = "b@example.com"

    async def handle_rcpt(server, session, envelope, address, rcpt_options):
        if address == refused:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_rcpt
    assert shop.deliver() == {**NOTHING, "sent": 2, "failed": 1}
    assert recipients(smtp_server) == ["a@example.com", "c@example.com"]


def test_a_manager_can_retry_a_failed_email(app, client, login, shop, smtp_server):
    (message_id,) = queue(app, "a@example.com")
    smtp_server.answer("550 no such user", at="rcpt")
    shop.deliver()
    smtp_server.accept()  # the address was fixed at the provider

    login("agent", "agent@example.com")
    assert client.post(f"/outbox/{message_id}/retry").status_code == 403
    assert shop.message(message_id).status == "failed"
    client.post("/logout")

    login("manager")
    page = client.get(f"/outbox/{message_id}")
    assert ">Retry<" in page.text
    response = client.post(f"/outbox/{message_id}/retry", follow_redirects=True)
    assert "Queued again" in response.text
    message = shop.message(message_id)
    assert (message.status, message.attempts) == ("queued", 0)
    (event,) = shop.events("outbox.retry")
    assert (event.actor_label, event.record_id) == ("manager@example.com", message_id)

    assert shop.deliver() == {**NOTHING, "sent": 1}
    assert recipients(smtp_server) == ["a@example.com"]
    again = client.post(f"/outbox/{message_id}/retry", follow_redirects=True)
    assert "Only failed emails can be retried; this one is sent." in again.text


def claim(app, message_id, status, claimed_until):
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        message.status, message.claimed_until, message.attempts = status, claimed_until, 1
        db.session.commit()


def test_a_claim_of_a_process_that_died_runs_out_and_the_email_goes(app, shop, smtp_server):
    now = utcnow()
    dead, alive = queue(app, "dead@example.com", "alive@example.com", now=now)
    claim(app, dead, "sending", now - timedelta(minutes=1))  # its process died mid-send
    claim(app, alive, "sending", now + timedelta(minutes=4))  # another process is on it

    assert shop.deliver(now) == {**NOTHING, "sent": 1}
    assert recipients(smtp_server) == ["dead@example.com"]
    assert (shop.message(dead).status, shop.message(dead).attempts) == ("sent", 2)
    untouched = shop.message(alive)
    assert (untouched.status, untouched.attempts) == ("sending", 1)
    assert untouched.claimed_until == now + timedelta(minutes=4)


class SilentServer:
    """Accepts TCP connections on loopback and never says a word."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.accepted, self.closing = threading.Event(), threading.Event()
        self.connections = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)  # held open, never answered
            self.accepted.set()

    def close(self):
        self.closing.set()
        self.thread.join(timeout=5)
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_server(app, smtp_server, monkeypatch):
    """The app's mail server is one that never answers; MAIL_TIMEOUT_SECONDS is 1."""
    server = SilentServer()
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(app.extensions["mail"], "port", server.port)
    yield server
    server.close()


def test_a_server_that_never_answers_times_out_and_the_emails_wait(app, shop, silent_server):
    now = utcnow()
    ids = queue(app, "a@example.com", "b@example.com", "c@example.com", now=now)
    started = time.monotonic()
    assert shop.deliver(now) == {**NOTHING, "retry": 3}
    assert time.monotonic() - started < 5
    # One connection timed out; the rest of the batch did not wait out a timeout each.
    assert len(silent_server.connections) == 1
    for message_id in ids:
        message = shop.message(message_id)
        assert (message.status, message.attempts) == ("queued", 1)
        assert "timed out" in message.last_error and message.next_attempt_at > now


def test_a_stalled_server_does_not_hold_up_other_writers(
    app, shop, quiet_cart, silent_server, monkeypatch
):
    """While the mailer waits for the server, it holds no transaction: on SQLite an open
    one would make every other writer wait (or fail) until the server times out."""
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 3)
    queue(app, "a@example.com")

    def deliver():
        with app.app_context():
            deliver_due()

    delivery = threading.Thread(target=deliver)
    delivery.start()
    try:
        assert silent_server.accepted.wait(timeout=5)  # the mailer is waiting for a greeting
        started = time.monotonic()
        quiet_cart()  # a write: a cart snapshot from the storefront
        assert time.monotonic() - started < 1.5
    finally:
        delivery.join(timeout=15)


def test_writing_the_emails_does_not_hold_up_other_writers(app, shop, quiet_cart, monkeypatch):
    """Recovery emails are written in a read-only transaction: on SQLite a write one would
    make the storefront wait behind the templates."""
    _, quiet = quiet_cart()
    shop.run(quiet + hours(1))
    writing, carry_on = threading.Event(), threading.Event()
    write = emails.recovery_email

    def slowly(order, step, to_email):
        writing.set()
        carry_on.wait(timeout=10)
        return write(order, step, to_email)

    monkeypatch.setattr(emails, "recovery_email", slowly)
    delivery = threading.Thread(target=shop.deliver)
    delivery.start()
    try:
        assert writing.wait(timeout=5)  # the delivery is in the middle of the templates
        started = time.monotonic()
        quiet_cart()  # a write: a cart snapshot from the storefront
        assert time.monotonic() - started < 1.5
    finally:
        carry_on.set()
        delivery.join(timeout=15)
    (message,) = [m for m in shop.outbox() if m.kind == "recovery"]
    assert message.status == "printed" and "Return to your cart" in message.body_text


def test_the_console_backend_prints_and_never_marks_sent(app, shop, capsys):
    """Development's console backend reaches no customer: the outbox must not say "sent"."""
    assert app.config["MAIL_BACKEND"] == "console"
    (message_id,) = queue(app, "a@example.com")
    assert shop.deliver() == {**NOTHING, "printed": 1}
    printed = capsys.readouterr().out
    assert "a@example.com" in printed and "Hello a@example.com" in printed
    assert shop.message(message_id).status == "printed"
    assert shop.message(message_id).sent_at is not None  # when it was printed
