"""The customer's emails about a return request, in the outbox with the dedupe key
return:<request id>:<event>: a move happens once, and so does its email. Templates:
templates/emails/return_<event>.txt and .html.

A move queues the email's row (recipient and subject) in its transaction, one statement
for a bulk move of hundreds; delivery writes each email when it goes out (`render_batch`,
the outbox's renderer for kind "return"), and the outbox shows how a queued one reads
meanwhile. Everything an email says is read back from the request: its lines, its notes
and its refund do not change once the move is made, and the estimate counts the
quantities of the move it announces (`ESTIMATE_BASIS`), so a late delivery says what an
immediate one would have.
"""

import logging

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard.extensions import db
from dashboard.orders.models import Order
from dashboard.outbox.service import (
    Content,
    Unwritable,
    Withdrawn,
    insert_ignoring_duplicates,
    outbox_row,
)
from dashboard.returns.models import ReturnLine, ReturnRequest
from dashboard.returns.refunds import refund_for_request
from dashboard.returns.rules import decision_due_at
from dashboard.timeutil import utcnow

log = logging.getLogger(__name__)

KIND = "return"

SUBJECTS = {
    "submitted": "We received your return request {number}",
    "approved": "Your return request {number} is approved",
    "rejected": "About your return request {number}",
    "received": "Your returned parcel arrived ({number})",
    "completed": "Your return {number} is complete",
    "cancelled": "Your return request {number} is cancelled",
}

# Which quantities the refund estimate in an email counts: what was asked for in the
# acknowledgement, what was approved in the approval.
ESTIMATE_BASIS = {"submitted": "requested", "approved": "approved"}

# How the customer reads each refund method, after "We refunded €30.00".
REFUND_HOW = {
    "original_payment": "to your original payment method",
    "store_credit": "as store credit",
}


def return_dedupe_key(request_id, event):
    return f"return:{request_id}:{event}"


def read_dedupe_key(key):
    """(request id, event) from return:<id>:<event>."""
    _, request_id, event = key.split(":", 2)
    return int(request_id), event


def return_email(request, event, **context):
    """The Content of the email telling the customer about `event`."""
    basis = ESTIMATE_BASIS.get(event)
    context = {
        "request": request,
        "order": request.order,
        "shop": current_app.config,
        "event": event,
        "decision_due_at": decision_due_at(request),
        "estimate": refund_for_request(request, basis=basis) if basis else None,
        "refund_how": REFUND_HOW.get(request.refund_method, ""),
        **context,
    }
    return Content(
        subject=SUBJECTS[event].format(number=request.number),
        body_text=render_template(f"emails/return_{event}.txt", **context),
        body_html=render_template(f"emails/return_{event}.html", **context),
    )


def queue_return_email(request, event):
    """Queue the email telling the customer about `event`; a second call for the same
    request and event queues nothing. Returns whether it was queued."""
    return bool(queue_return_emails([(request.id, request.number, request.email)], event))


def queue_return_emails(moved, event, now=None):
    """Queue the email about `event` for each of `moved` ((request id, number, email)
    rows), to be written when it goes out. One statement; returns how many were queued."""
    now = now or utcnow()
    return insert_ignoring_duplicates(
        [
            outbox_row(
                KIND,
                return_dedupe_key(request_id, event),
                email,
                SUBJECTS[event].format(number=number),
                record=("return_request", request_id),
                now=now,
            )
            for request_id, number, email in moved
        ]
    )


def _context_from_history(request, event):
    """What a move told the customer beyond the request's own columns, read back from it."""
    if event == "cancelled":
        moves = [e for e in request.events if e.event == "cancelled"]
        last = moves[-1] if moves else None
        return {"by_customer": bool(last and last.by_customer), "note": last.note if last else None}
    if event == "completed":
        from dashboard.returns.service import difference_for  # the service imports this module

        return {"difference": difference_for(request)}
    return {}


def render_batch(messages):
    """Content (or Unwritable) for each queued return email, by message id: one read of
    the batch's requests with their lines, orders and history."""
    wanted = {m.id: read_dedupe_key(m.dedupe_key) for m in messages}
    requests = {
        r.id: r
        for r in db.session.scalars(
            select(ReturnRequest)
            .where(ReturnRequest.id.in_({request_id for request_id, _ in wanted.values()}))
            .options(
                selectinload(ReturnRequest.lines).selectinload(ReturnLine.order_item),
                selectinload(ReturnRequest.order).selectinload(Order.items),
                selectinload(ReturnRequest.events),
            )
        )
    }
    rendered = {}
    for message in messages:
        request_id, event = wanted[message.id]
        request = requests.get(request_id)
        if request is None:
            rendered[message.id] = Withdrawn("the return request no longer exists")
            continue
        try:
            rendered[message.id] = return_email(
                request, event, **_context_from_history(request, event)
            )
        except Exception as error:  # noqa: BLE001 - one bad email must not stop the rest
            log.exception("Could not write return email %s", message.dedupe_key)
            rendered[message.id] = Unwritable(f"{type(error).__name__}: {error}")
    return rendered
