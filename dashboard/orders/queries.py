from datetime import timedelta

from sqlalchemy import or_, select

from dashboard import listing
from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.listing import SortOption, Sorts, parse_amount, parse_datetime
from dashboard.orders.models import Order
from dashboard.timeutil import shop_day_start_utc

ORDER_SORTS = Sorts(
    [
        SortOption("placed", "Placed", Order.placed_at, parse_datetime),
        SortOption("total", "Total", Order.total, parse_amount),
    ],
    default="-placed",
)


def filter_conditions(f):
    conditions = []
    if f.get("q"):
        needle = f["q"].strip().lower()
        conditions.append(
            or_(
                Order.number.startswith(needle.upper(), autoescape=True),
                Order.number.startswith(needle, autoescape=True),
                Order.email.startswith(needle, autoescape=True),
            )
        )
    if f.get("source"):
        conditions.append(Order.source == f["source"])
    if f.get("payment"):
        conditions.append(Order.payment_received.is_(f["payment"] == "received"))
    if f.get("placed_from"):
        conditions.append(Order.placed_at >= shop_day_start_utc(f["placed_from"]))
    if f.get("placed_to"):
        conditions.append(Order.placed_at < shop_day_start_utc(f["placed_to"] + timedelta(days=1)))
    return conditions


def filtered(filters):
    return select(Order).where(*filter_conditions(filters))


def list_page(form, page_size):
    """The list for a filled-in OrderFilterForm, counted inline (orders are far fewer than
    carts, and the count is bounded)."""
    return listing.list_page(db.session, form, filtered, ORDER_SORTS, Order.id, page_size)


def history(order):
    """What happened to an order, oldest first: the audit events about it (created,
    marked paid, ...), with who."""
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.record_type == "order", AuditEvent.record_id == order.id)
        .order_by(AuditEvent.id)
        .limit(200)
    ).all()
