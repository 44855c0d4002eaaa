"""Reads of incomplete orders: the filtered, sorted, paged list (a cart's timeline is in
timeline.py)."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select, true

from dashboard import listing
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.search import search_condition
from dashboard.listing import SortOption, Sorts, parse_amount, parse_datetime
from dashboard.money import shop_currency, to_minor
from dashboard.timeutil import shop_day_start_utc

INCOMPLETE_ORDER_SORTS = Sorts(
    [
        SortOption(
            "last_activity", "Last activity", IncompleteOrder.last_activity_at, parse_datetime
        ),
        SortOption("created", "Created", IncompleteOrder.created_at, parse_datetime),
        SortOption("value", "Value", IncompleteOrder.subtotal, parse_amount),
        SortOption("attempts", "Recovery emails", IncompleteOrder.recovery_attempts, parse_amount),
    ],
    default="-last_activity",
)


def _minor_units(amount: Decimal):
    return to_minor(amount, shop_currency())


def filter_conditions(filters):
    """SQL conditions for the valid filters of IncompleteOrderFilterForm.valid_data()."""
    conditions = []
    f = filters
    if f.get("status"):
        conditions.append(IncompleteOrder.status == f["status"])
    if f.get("stage"):
        conditions.append(IncompleteOrder.stage == f["stage"])
    if f.get("customer") == "guest":
        conditions.append(IncompleteOrder.customer_id.is_(None))
    elif f.get("customer") == "registered":
        conditions.append(IncompleteOrder.customer_id.is_not(None))
    if f.get("has_email") == "yes":
        conditions.append(IncompleteOrder.email.is_not(None))
    elif f.get("has_email") == "no":
        conditions.append(IncompleteOrder.email.is_(None))
    if f.get("min_value") is not None:
        conditions.append(IncompleteOrder.subtotal >= _minor_units(f["min_value"]))
    if f.get("max_value") is not None:
        conditions.append(IncompleteOrder.subtotal <= _minor_units(f["max_value"]))
    for name, column in (
        ("created", IncompleteOrder.created_at),
        ("active", IncompleteOrder.last_activity_at),
    ):
        if f.get(f"{name}_from"):
            conditions.append(column >= shop_day_start_utc(f[f"{name}_from"]))
        if f.get(f"{name}_to"):
            conditions.append(column < shop_day_start_utc(f[f"{name}_to"] + timedelta(days=1)))
    if f.get("q"):
        dialect = db.session.get_bind().dialect.name
        conditions.append(search_condition(dialect, IncompleteOrder.id, f["q"]))
    return conditions


def filtered(filters):
    return select(IncompleteOrder).where(*filter_conditions(filters))


def list_page(form, page_size):
    """The list for a filled-in IncompleteOrderFilterForm. Its count comes apart
    (`count_matching`): the page never waits on counting a million carts."""
    return listing.list_page(
        db.session,
        form,
        filtered,
        INCOMPLETE_ORDER_SORTS,
        IncompleteOrder.id,
        page_size,
        count=False,
    )


def count_matching(filters):
    """The bounded `Count` of incomplete orders the filters match."""
    return listing.count_rows(db.session, filtered(filters), IncompleteOrder.id)


def in_filter(filters):
    """A condition selecting every incomplete order the filters match (for bulk updates)."""
    return and_(true(), *filter_conditions(filters))


def counts_by_status():
    rows = db.session.execute(
        select(IncompleteOrder.status, func.count()).group_by(IncompleteOrder.status)
    ).all()
    return dict(rows)
