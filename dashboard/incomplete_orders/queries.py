"""Reads of incomplete orders: the filtered, sorted, paged list (a cart's timeline is in
timeline.py)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, func, select, true

from dashboard import listing
from dashboard.analytics import definitions as analytics
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderNote
from dashboard.incomplete_orders.search import search_condition
from dashboard.listing import SortOption, Sorts, parse_amount, parse_datetime
from dashboard.money import shop_currency, to_minor
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.recovery.rules import RecoverySettings, next_due_at
from dashboard.timeutil import shop_day_start_utc, utcnow

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


# Unsubscribed addresses and carts with notes are few beside a million carts: read from
# their own tables (an IN on the cart's email index / primary key), whereas an EXISTS per
# cart would walk the whole sort index when none match (300,000 carts, no notes: 230 ms as
# EXISTS, under 1 ms as IN, on SQLite). Clicks are common: an EXISTS per cart in sort
# order finds a page of them soon.
def _unsubscribed():
    return IncompleteOrder.email.in_(select(Suppression.email))


def _clicked():
    return exists().where(
        RecoveryAttempt.incomplete_order_id == IncompleteOrder.id,
        RecoveryAttempt.clicked_at.is_not(None),
    )


def _has_notes():
    return IncompleteOrder.id.in_(select(IncompleteOrderNote.incomplete_order_id))


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
    # Paused has no index of its own: the sort index is walked until a page is found
    # (with status=open, the status index narrows it first on SQLite).
    if f.get("paused"):
        conditions.append(IncompleteOrder.recovery_paused_at.is_not(None))
    if f.get("unsubscribed"):
        conditions.append(_unsubscribed())
    if f.get("clicked"):
        conditions.append(_clicked())
    if f.get("has_notes"):
        conditions.append(_has_notes())
    if f.get("min_value") is not None:
        conditions.append(IncompleteOrder.subtotal >= _minor_units(f["min_value"]))
    if f.get("max_value") is not None:
        conditions.append(IncompleteOrder.subtotal <= _minor_units(f["max_value"]))
    conditions += _analytics_conditions(f)
    for name, column in (
        ("created", IncompleteOrder.created_at),
        ("active", IncompleteOrder.last_activity_at),
        ("abandoned", IncompleteOrder.abandoned_at),
    ):
        if f.get(f"{name}_from"):
            conditions.append(column >= shop_day_start_utc(f[f"{name}_from"]))
        if f.get(f"{name}_to"):
            conditions.append(column < shop_day_start_utc(f[f"{name}_to"] + timedelta(days=1)))
    if f.get("q"):
        dialect = db.session.get_bind().dialect.name
        conditions.append(search_condition(dialect, IncompleteOrder.id, f["q"]))
    return conditions


def _analytics_conditions(f):
    """The analytics' definitions as filters: an outcome is one of an abandoned cart."""
    wanted = [f.get("outcome"), f.get("recoverable"), f.get("emailed"), f.get("holdout")]
    if not any(wanted):
        return []
    settings = analytics.AnalyticsSettings.from_config()
    conditions = [IncompleteOrder.abandoned_at.is_not(None)]
    if f.get("outcome"):
        conditions.append(analytics.outcome_condition(f["outcome"], settings))
    if f.get("recoverable"):
        conditions.append(analytics.recoverable(settings))
    if f.get("emailed"):
        conditions.append(analytics.emailed())
    if f.get("holdout"):
        conditions.append(analytics.holdout_group_condition(f["holdout"], settings))
    return conditions


def filtered(filters):
    return select(IncompleteOrder).where(*filter_conditions(filters))


@dataclass(frozen=True)
class RowState:
    """What a list row shows about a cart's recovery besides its own columns."""

    clicked: bool
    unsubscribed: bool
    has_notes: bool
    next_due_at: datetime | None
    now: datetime | None = None

    @property
    def due_now(self):
        """The next email's time has come: it goes with the next recovery run."""
        return (
            self.next_due_at is not None and self.now is not None and self.next_due_at <= self.now
        )


def row_states(rows):
    """{id: RowState} for one page of incomplete orders: one query per flag for the whole
    page, never one per row; the next email's time from each row (recovery.rules)."""
    ids = [o.id for o in rows]
    if not ids:
        return {}
    emails = {o.email for o in rows if o.email}
    clicked = set(
        db.session.scalars(
            select(RecoveryAttempt.incomplete_order_id)
            .where(
                RecoveryAttempt.incomplete_order_id.in_(ids),
                RecoveryAttempt.clicked_at.is_not(None),
            )
            .distinct()
        )
    )
    unsubscribed = (
        set(db.session.scalars(select(Suppression.email).where(Suppression.email.in_(emails))))
        if emails
        else set()
    )
    noted = set(
        db.session.scalars(
            select(IncompleteOrderNote.incomplete_order_id)
            .where(IncompleteOrderNote.incomplete_order_id.in_(ids))
            .distinct()
        )
    )
    settings = RecoverySettings.from_config()
    now = utcnow()
    states = {}
    for o in rows:
        is_unsubscribed = o.email in unsubscribed
        states[o.id] = RowState(
            clicked=o.id in clicked,
            unsubscribed=is_unsubscribed,
            has_notes=o.id in noted,
            next_due_at=None if is_unsubscribed else next_due_at(o, settings),
            now=now,
        )
    return states


def list_page(form, page_size):
    """The list for a filled-in IncompleteOrderFilterForm, with each row's `RowState` in
    `result.row_states`. Its count comes apart (`count_matching`): the page never waits on
    counting a million carts."""
    result = listing.list_page(
        db.session,
        form,
        filtered,
        INCOMPLETE_ORDER_SORTS,
        IncompleteOrder.id,
        page_size,
        count=False,
    )
    result.row_states = row_states(result.rows)
    return result


def export_rows(filters):
    """Every incomplete order the filters match, in the list's sort (the same keyset order as
    its pages), streamed in batches."""
    sort, descending = INCOMPLETE_ORDER_SORTS.resolve(filters.get("sort"))
    order = (
        (sort.column.desc(), IncompleteOrder.id.desc())
        if descending
        else (sort.column.asc(), IncompleteOrder.id.asc())
    )
    stmt = filtered(filters).order_by(*order).execution_options(yield_per=1000)
    return db.session.scalars(stmt)


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
