"""The outbox: every email Reclaim decides to send is first written here as a row with a
unique dedupe key, in the transaction of the decision; the delivery runner
(dashboard.outbox.delivery) sends it later. Functions here flush; the caller commits.

Content is written when the decision is made (an order confirmation), or, for kinds with
a renderer registered with `register_renderer`, when the message first goes out: a
recovery run then only decides, which keeps it fast, and the email shows the cart as it
is when it leaves. A renderer may also withdraw a message nobody wants any more (the
customer bought in between); it is marked withdrawn with the reason, never sent.
"""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dashboard.extensions import db
from dashboard.outbox.models import OutboxMessage
from dashboard.timeutil import utcnow
from dashboard.transaction import DomainError

log = logging.getLogger(__name__)


def register_renderer(app, kind, render_batch):
    """`render_batch(messages)` writes the messages of `kind` queued without content when
    they go out: {message id: Content | Withdrawn | Unwritable}."""
    app.extensions.setdefault("outbox_renderers", {})[kind] = render_batch


@dataclass(frozen=True)
class Content:
    """What a renderer writes for a message."""

    subject: str
    body_text: str
    body_html: str
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Withdrawn:
    """A renderer's answer for a message that must not go out, and why."""

    reason: str


@dataclass(frozen=True)
class Unwritable:
    """A renderer's answer for a message it failed to write: marked failed with the error,
    so one bad message never holds up the rest of its batch."""

    error: str


@dataclass(frozen=True)
class NotKept:
    """A message that went out without its content kept (history from before the outbox
    kept what it sent, such as the demo's): nothing to show but when and to whom."""


def render(messages):
    """Content, Withdrawn or Unwritable for each message queued without content, by id,
    from its kind's renderer (one call per kind, for the whole batch)."""
    renderers = current_app.extensions["outbox_renderers"]
    by_kind = defaultdict(list)
    for message in messages:
        if not message.written:
            by_kind[message.kind].append(message)
    rendered = {}
    for kind, group in by_kind.items():
        try:
            rendered.update(renderers[kind](group))
        except Exception as error:  # noqa: BLE001 - one kind's failure fails its messages alone
            log.exception("the %s renderer failed", kind)
            failed = Unwritable(f"{type(error).__name__}: {error}")
            rendered.update((message.id, failed) for message in group)
    return rendered


def insert_ignoring_duplicates(rows):
    """Write outbox rows; a row whose dedupe key exists already is dropped. Returns the count."""
    if not rows:
        return 0
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(OutboxMessage.__table__)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    # Counted from RETURNING: an executemany's rowcount is -1 on PostgreSQL.
    return len(db.session.execute(statement, rows).all())


def outbox_row(
    kind,
    dedupe_key,
    to_email,
    subject=None,
    body_text=None,
    body_html=None,
    headers=None,
    record=None,
    now=None,
):
    """A row for insert_ignoring_duplicates. With no content, the kind's renderer writes it
    when the message goes out."""
    now = now or utcnow()
    return {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "to_email": to_email,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "headers_json": json.dumps(headers or {}),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "record_type": record[0] if record else None,
        "record_id": record[1] if record else None,
    }


class OutboxError(DomainError):
    """A change to the outbox that the rules refuse."""


def retry_now(message):
    """Queue a failed message again, for a manager who fixed the cause."""
    if message.status != "failed":
        raise OutboxError(f"Only failed emails can be retried; this one is {message.status}.")
    message.status = "queued"
    message.next_attempt_at = utcnow()
    message.attempts = 0
    db.session.flush()
    return message
