"""Reads of incomplete orders: the filtered, sorted, paged list and one order's timeline."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select, true, union

from dashboard import listing
from dashboard.audit.actions import action_label
from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderNote
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


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    actor: str | None = None
    body: str | None = None
    details: dict | None = None


def timeline(order):
    """Everything that happened to an incomplete order, newest first."""
    direct = select(AuditEvent.id).where(
        AuditEvent.record_type == "incomplete_order", AuditEvent.record_id == order.id
    )
    via_bulk = select(AuditEventTarget.event_id).where(
        AuditEventTarget.record_type == "incomplete_order", AuditEventTarget.record_id == order.id
    )
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.id.in_(union(direct, via_bulk)))
        .order_by(AuditEvent.id.desc())
        .limit(200)
    ).all()
    notes = {
        note.id: note
        for note in db.session.scalars(
            select(IncompleteOrderNote).where(IncompleteOrderNote.incomplete_order_id == order.id)
        )
    }
    entries = [
        TimelineEntry(at=order.created_at, kind="started", title="Customer started the cart")
    ]
    for event in events:
        details = event.details
        body = None
        if event.action == "incomplete_order.note":
            note = notes.get(details.get("note_id"))
            body = note.body if note else None
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind=event.action.split(".", 1)[1],
                title=action_label(event.action),
                actor=event.actor_label,
                body=body,
                details=details,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def counts_by_status():
    rows = db.session.execute(
        select(IncompleteOrder.status, func.count()).group_by(IncompleteOrder.status)
    ).all()
    return dict(rows)
