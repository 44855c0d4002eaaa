from datetime import timedelta

from sqlalchemy import or_, select

from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.listing import (
    SortOption,
    Sorts,
    bounded_count,
    keyset_page,
    parse_amount,
    parse_datetime,
)
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
    if f.get("placed_from"):
        conditions.append(Order.placed_at >= shop_day_start_utc(f["placed_from"]))
    if f.get("placed_to"):
        conditions.append(Order.placed_at < shop_day_start_utc(f["placed_to"] + timedelta(days=1)))
    return conditions


def list_page(filters, page_size):
    stmt = select(Order).where(*filter_conditions(filters))
    sort, descending = ORDER_SORTS.resolve(filters.get("sort"))
    page = keyset_page(
        db.session, stmt, sort, Order.id, descending, filters.get("cursor"), page_size
    )
    count, capped = bounded_count(db.session, stmt, Order.id)
    return page, count, capped, ("-" if descending else "") + sort.key


def history(order):
    """What happened to an order, oldest first: the audit events about it (created,
    marked paid, ...), with who."""
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.record_type == "order", AuditEvent.record_id == order.id)
        .order_by(AuditEvent.id)
        .limit(200)
    ).all()
