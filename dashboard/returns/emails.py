"""The customer's emails about a return request, written to the outbox in the transaction
of each move, with the dedupe key return:<request id>:<event>: a move happens once, and
so does its email. Templates: templates/emails/return_<event>.txt and .html."""

from flask import current_app, render_template

from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.returns.refunds import refund_for_request
from dashboard.returns.rules import decision_due_at

KIND = "return"

SUBJECTS = {
    "submitted": "We received your return request {number}",
    "approved": "Your return request {number} is approved",
    "rejected": "About your return request {number}",
    "received": "Your returned parcel arrived ({number})",
    "completed": "Your return {number} is complete",
    "cancelled": "Your return request {number} is cancelled",
}


# How the customer reads each refund method, after "We refunded €30.00".
REFUND_HOW = {
    "original_payment": "to your original payment method",
    "store_credit": "as store credit",
}


def return_dedupe_key(request_id, event):
    return f"return:{request_id}:{event}"


def queue_return_email(request, event, **context):
    """Write the email telling the customer about `event`; a second call for the same
    request and event writes nothing. Returns whether it was written."""
    context = {
        "request": request,
        "order": request.order,
        "shop": current_app.config,
        "event": event,
        "decision_due_at": decision_due_at(request),
        "estimate": refund_for_request(request) if event in ("submitted", "approved") else None,
        "refund_how": REFUND_HOW.get(request.refund_method, ""),
        **context,
    }
    written = insert_ignoring_duplicates(
        [
            outbox_row(
                KIND,
                return_dedupe_key(request.id, event),
                request.email,
                SUBJECTS[event].format(number=request.number),
                render_template(f"emails/return_{event}.txt", **context),
                render_template(f"emails/return_{event}.html", **context),
                record=("return_request", request.id),
            )
        ]
    )
    return bool(written)
