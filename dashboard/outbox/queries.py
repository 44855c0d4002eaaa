"""Reads of the outbox: the emails by status and kind, newest first."""

from sqlalchemy import select

from dashboard import listing
from dashboard.extensions import db
from dashboard.listing import SortOption, Sorts, parse_amount
from dashboard.outbox.models import OutboxMessage

OUTBOX_SORTS = Sorts([SortOption("id", "Newest", OutboxMessage.id, parse_amount)], default="-id")
KINDS = {
    "recovery": "Recovery",
    "order_confirmation": "Order confirmation",
    "return": "Return request",
}


def filter_conditions(f):
    conditions = []
    if f.get("status"):
        conditions.append(OutboxMessage.status == f["status"])
    if f.get("kind"):
        conditions.append(OutboxMessage.kind == f["kind"])
    return conditions


def filtered(filters):
    return select(OutboxMessage).where(*filter_conditions(filters))


def list_page(form, page_size):
    """The emails for a filled-in OutboxFilterForm, newest first, counted inline (bounded)."""
    return listing.list_page(db.session, form, filtered, OUTBOX_SORTS, OutboxMessage.id, page_size)
