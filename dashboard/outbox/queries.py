"""Reads of the outbox: the emails by status, kind, recipient and cart, newest first, and
what each one is about (its cart and step, its order, its return request)."""

from dataclasses import dataclass

import email_validator
from flask import url_for
from sqlalchemy import func, or_, select

from dashboard import listing
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.listing import MAX_ID, SortOption, Sorts, parse_amount
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.returns.models import ReturnRequest

OUTBOX_SORTS = Sorts([SortOption("id", "Newest", OutboxMessage.id, parse_amount)], default="-id")
KINDS = {
    "recovery": "Recovery",
    "order_confirmation": "Order confirmation",
    "return": "Return request",
}
# Part of an address is looked for among this many of the newest emails (a substring
# cannot use an index); a whole address is an index read over the whole outbox.
RECIPIENT_SEARCH_WINDOW = 50_000
MIN_RECIPIENT_FRAGMENT = 3


def is_whole_address(text):
    try:
        email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return False
    return True


def _recipient_condition(text):
    text = text.strip()
    if is_whole_address(text):
        return func.lower(OutboxMessage.to_email) == text.lower()
    newest = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
    return (OutboxMessage.id > newest - RECIPIENT_SEARCH_WINDOW) & func.lower(
        OutboxMessage.to_email
    ).contains(text.lower(), autoescape=True)


def recipient_search_is_partial(text):
    """Whether looking for `text` leaves older emails out (part of an address, and more
    emails than the window holds)."""
    text = (text or "").strip()
    if not text or is_whole_address(text):
        return False
    newest = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
    return newest > RECIPIENT_SEARCH_WINDOW


def _cart_condition(text):
    """Emails about the cart with this storefront cart id or Reclaim number: its recovery
    emails, and the confirmation of the order it became."""
    text = text.strip().removeprefix("#")
    carts = select(IncompleteOrder.id).where(IncompleteOrder.cart_id == text)
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
        carts = carts.union(select(IncompleteOrder.id).where(IncompleteOrder.id == int(text)))
    cart_ids = select(carts.subquery().c.id)
    orders = select(Order.id).where(Order.incomplete_order_id.in_(cart_ids))
    return or_(
        (OutboxMessage.record_type == "incomplete_order") & OutboxMessage.record_id.in_(cart_ids),
        (OutboxMessage.record_type == "order") & OutboxMessage.record_id.in_(orders),
    )


def filter_conditions(f):
    conditions = []
    if f.get("status"):
        conditions.append(OutboxMessage.status == f["status"])
    if f.get("kind"):
        conditions.append(OutboxMessage.kind == f["kind"])
    if f.get("to"):
        conditions.append(_recipient_condition(f["to"]))
    if f.get("cart"):
        conditions.append(_cart_condition(f["cart"]))
    return conditions


def filtered(filters):
    return select(OutboxMessage).where(*filter_conditions(filters))


def list_page(form, page_size):
    """The emails for a filled-in OutboxFilterForm, newest first, counted inline (bounded)."""
    return listing.list_page(db.session, form, filtered, OUTBOX_SORTS, OutboxMessage.id, page_size)


@dataclass(frozen=True)
class About:
    """What an email is about, as its row shows it: a kind of record ("Cart"), the record's
    name (the storefront's cart id, an order or return number), its page, and for a
    recovery email its step."""

    kind: str
    name: str
    url: str | None = None
    step: int | None = None


def _recovery_step(message):
    """The step a recovery email's dedupe key (recovery:<cart>:<step>) names, or None."""
    _, _, step = message.dedupe_key.rpartition(":")
    return int(step) if step.isascii() and step.isdigit() else None


def _names(id_column, name_column, ids):
    if not ids:
        return {}
    return dict(db.session.execute(select(id_column, name_column).where(id_column.in_(ids))).all())


def about(messages):
    """{message id: About} for a page of emails, in one query per kind of record."""
    ids = {}
    for message in messages:
        if message.record_id:
            ids.setdefault(message.record_type, set()).add(message.record_id)
    carts = _names(IncompleteOrder.id, IncompleteOrder.cart_id, ids.get("incomplete_order"))
    orders = _names(Order.id, Order.number, ids.get("order"))
    requests = _names(ReturnRequest.id, ReturnRequest.number, ids.get("return_request"))

    found = {}
    for m in messages:
        if m.record_type == "incomplete_order":
            step = _recovery_step(m) if m.kind == "recovery" else None
            if m.record_id in carts:
                url = url_for("incomplete_orders.detail", order_id=m.record_id)
                found[m.id] = About("Cart", carts[m.record_id], url, step)
            else:  # deleted by the clean-up since
                found[m.id] = About("Cart", f"#{m.record_id}, since deleted", None, step)
        elif m.record_type == "order" and m.record_id in orders:
            url = url_for("orders.detail", order_id=m.record_id)
            found[m.id] = About("Order", orders[m.record_id], url)
        elif m.record_type == "return_request" and m.record_id in requests:
            url = url_for("returns.detail", request_id=m.record_id)
            found[m.id] = About("Return", requests[m.record_id] or f"#{m.record_id}", url)
    return found
