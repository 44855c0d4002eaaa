"""Outbox delivery: a runner that sends what the outbox holds, retries, or marks failed.
It owns its transactions and is called by the scheduler and the CLI, never from a view.

Delivery errs on the side of at-least-once: a process killed after the server accepted a
message but before it was marked sent delivers it again once its claim runs out (the
repeat carries the same Message-ID). Never marking an unsent message as sent matters more
to a shop than a rare duplicate.

With the console backend (development) nothing is delivered: a message is printed and
marked "printed", never "sent".
"""

import json
import logging
import smtplib
from collections import defaultdict
from contextlib import ExitStack
from datetime import timedelta

from flask import current_app
from flask_mail import BadHeaderError
from sqlalchemy import and_, func, or_, select, update

from dashboard.database import write_intent
from dashboard.extensions import db
from dashboard.outbox import mailer
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import Content, Withdrawn, render
from dashboard.signals import outbox_messages_finished
from dashboard.timeutil import utcnow

log = logging.getLogger(__name__)

CLAIM_MINUTES = 5
MAX_ROUNDS = 1000
# The server answered, refusing this message: the connection itself is fine.
REFUSALS = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)
# The message cannot be written out at all (a non-ASCII address, a line break in a
# header): no retry helps.
UNSENDABLE = (UnicodeError, ValueError, BadHeaderError)
BACKOFF_SECONDS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600)


def waiting(now=None):
    """{kind: count} of the messages a delivery run would take now. Reads only."""
    now = now or utcnow()
    return dict(
        db.session.execute(
            select(OutboxMessage.kind, func.count())
            .where(_due(now))
            .group_by(OutboxMessage.kind)
            .order_by(OutboxMessage.kind)
        ).all()
    )


def _due(now):
    return or_(
        and_(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )


def delivery_run(limit=500):
    """Deliver what the outbox holds that is due, a batch at a time. Returns counts."""
    totals = {"sent": 0, "retry": 0, "failed": 0, "withdrawn": 0}
    for _ in range(MAX_ROUNDS):
        counts = deliver_due(limit)
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
        if sum(counts.values()) < limit:
            break
    return totals


def _claim_due(limit, now):
    due = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = (
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(
                status="sending",
                claimed_until=now + timedelta(minutes=CLAIM_MINUTES),
                attempts=OutboxMessage.attempts + 1,
            )
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    return sorted(ids)


def _is_permanent(error):
    if isinstance(error, UNSENDABLE) or not isinstance(error, smtplib.SMTPException | OSError):
        return True  # the message cannot be written out, or sending it broke: no retry helps
    code = getattr(error, "smtp_code", None)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in error.recipients.values()]
        return bool(codes) and all(c >= 500 for c in codes)
    return code is not None and code >= 500


def _describe(error):
    if isinstance(error, smtplib.SMTPResponseException):
        message = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return f"{error.smtp_code} {message}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {msg.decode(errors='replace')}"
            for rcpt, (code, msg) in error.recipients.items()
        )
    if isinstance(error, UnicodeError):
        return f"Cannot be sent: only ASCII addresses can be sent to ({error})"
    if isinstance(error, BadHeaderError):
        return "Cannot be sent: a line break in the subject or an address"
    return f"{type(error).__name__}: {error}"


def _finish(message, finished, **values):
    """Mark one message, committed at once (a delivered message is never sent twice for
    want of a commit). One that left the queue goes on `finished`."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if values["status"] != "queued":
        finished.append((message, values["status"], values.get("sent_at") or utcnow()))


def _tell_domains(finished):
    """Tell each kind's domain which of its messages left the queue in this batch (sent,
    printed, failed or withdrawn), in one short transaction: one statement per kind, not one
    per message. A process killed before it is caught up by the domain's own run."""
    by_kind = defaultdict(list)
    for message, status, at in finished:
        by_kind[message.kind].append((message, status, at))
    for kind, rows in by_kind.items():
        outbox_messages_finished.send(kind, finished=rows)
    db.session.commit()


def deliver_due(limit=500, now=None):
    """Deliver queued messages whose time has come. Returns counts by outcome.

    `now` (simulated time, for tests) is also when the messages are marked sent.
    """
    clock = utcnow if now is None else (lambda: now)
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "failed": 0, "withdrawn": 0}
    ids = _claim_due(limit, now)
    if not ids:
        return counts
    messages, rendered = _read_and_render(ids)
    finished = []
    counts.update(_write_content(messages, rendered, finished))
    outgoing = []
    for message in messages:
        if message.status != "sending":
            continue
        try:
            outgoing.append((message, mailer.build_message(message)))
        except Exception as error:  # noqa: BLE001 - one message must not hold up its batch
            log.exception("could not build outbox message %s", message.id)
            error = f"Could not build it: {_describe(error)}"
            _finish(message, finished, status="failed", last_error=error)
            counts["failed"] += 1
    try:
        _send(outgoing, now, counts, clock, finished)
    finally:
        _tell_domains(finished)
    return counts


def _send(outgoing, now, counts, clock, finished):
    """Hand each (outbox message, Flask-Mail message) to the server and mark how it went.

    Outside any transaction: on SQLite an open one holds the write lock, and a slow or
    dead server would hold up every other writer with it.
    """
    delivered = mailer.delivers()  # False for the console backend: printed, not sent
    with ExitStack() as connections:
        connection = None
        # Could not connect: the rest of the batch waits too, rather than each message
        # waiting out the timeout of a server that is down or silent.
        unreachable = None
        for outbox_message, message in outgoing:
            error = unreachable
            if error is None:
                try:
                    if connection is None:
                        connection = connections.enter_context(mailer.connect())
                    connection.send(message)
                except UNSENDABLE as failure:
                    if connection is None:
                        raise  # the mail settings themselves are wrong: no message's fault
                    error = failure  # raised before anything went to the server
                except (smtplib.SMTPException, OSError) as failure:
                    error = failure
                    if connection is None:
                        unreachable = failure
                    elif not isinstance(failure, REFUSALS):
                        connection = None  # the connection broke: open a new one for the next
                except Exception as failure:  # noqa: BLE001 - this message alone fails
                    log.exception("could not send outbox message %s", outbox_message.id)
                    error, connection = failure, None
            if error is None:
                status = "sent" if delivered else "printed"
                _finish(outbox_message, finished, status=status, sent_at=clock(), last_error=None)
                counts[status] = counts.get(status, 0) + 1
            else:
                counts[_fail_or_retry(outbox_message, error, now, finished)] += 1


def _fail_or_retry(message, error, now, finished):
    """A message that did not go: failed for good, or queued again after a backoff."""
    attempts = message.attempts
    if _is_permanent(error) or attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _finish(message, finished, status="failed", last_error=_describe(error))
        return "failed"
    delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    _finish(
        message,
        finished,
        status="queued",
        last_error=_describe(error),
        next_attempt_at=now + timedelta(seconds=delay),
    )
    return "retry"


def _read_and_render(ids):
    """The claimed messages, detached, and the content of those queued without it.

    Read and rendered in a read-only transaction: on SQLite other writers (staff, the
    storefront) never wait behind the templates. Detached, the messages keep what was
    loaded, and the commits that follow need not expire them one by one.
    """
    reading = write_intent.set(False)
    try:
        messages = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        ).all()
        rendered = render(messages)
        db.session.expunge_all()
        db.session.rollback()  # end the read; nothing was written
    finally:
        write_intent.reset(reading)
    return messages, rendered


def _write_content(messages, rendered, finished):
    """Store what the renderers said: the content, or a withdrawn or failed status. One
    short write transaction, committed before sending: what goes out is what the outbox
    shows. Returns how many were withdrawn and failed."""
    counts = {"withdrawn": 0, "failed": 0}
    changes = defaultdict(list)  # rows by the columns they set: one executemany each
    for message in messages:
        outcome = rendered.get(message.id)
        if outcome is None:
            continue  # written already (a retry)
        if isinstance(outcome, Content):
            values = {
                "subject": outcome.subject,
                "body_text": outcome.body_text,
                "body_html": outcome.body_html,
                "headers_json": json.dumps(outcome.headers),
            }
        elif isinstance(outcome, Withdrawn):
            values = {"status": "withdrawn", "last_error": outcome.reason, "claimed_until": None}
            counts["withdrawn"] += 1
        else:
            error = f"Could not write it: {outcome.error}"
            values = {"status": "failed", "last_error": error, "claimed_until": None}
            counts["failed"] += 1
        for name, value in values.items():
            setattr(message, name, value)  # detached: for building the email, not saved
        changes[tuple(values)].append({"id": message.id, **values})
    for rows in changes.values():
        db.session.execute(update(OutboxMessage), rows)
    db.session.commit()
    finished += [(m, m.status, utcnow()) for m in messages if m.status in ("withdrawn", "failed")]
    return counts
