"""The analytics run: store abandonment times, then recompute the daily rollups of the days
that can still change. A runner: it owns its transactions, each short (a batch of carts, a
few days of rollups), and is called by the scheduler and the CLI, never from a view.

Which days: the last max(RECOVERY_ATTRIBUTION_DAYS, EXPIRE_AFTER_DAYS) + 1 closed days (a
cart abandoned then can still convert, expire or be credited), and any closed day no run
has stored yet. Today is never stored; the page counts it live. Days older than
RETENTION_DAYS are frozen once stored: clean-up has deleted some of their carts, and a
recount would shrink history.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Date, cast, delete, func, insert, literal_column, select, update

from dashboard.analytics import definitions as d
from dashboard.analytics import queries, returns
from dashboard.analytics.days import (
    consecutive_runs,
    day_bounds,
    days_between,
    month_end,
    month_start,
    shop_day,
    shop_today,
    weekday,
)
from dashboard.analytics.models import (
    MONTHS_OF,
    HourDay,
    OrderDay,
    RecoveryDay,
    ReturnDay,
    RolledDay,
    SkuDay,
    StepDay,
)
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.returns.models import ReturnRequest
from dashboard.timeutil import to_shop_time, utcnow
from dashboard.transaction import run_in_transaction

CART_BATCH = 50_000
DAYS_PER_TRANSACTION = 14
# Orders reported this long before the last run began are looked at again: one committed
# while that run read its days may not have been in them.
LATE_ORDER_MARGIN = timedelta(hours=1)


@dataclass
class AnalyticsRun:
    abandoned: int = 0  # carts whose abandonment time was stored now
    days: list = field(default_factory=list)  # shop days recomputed (or, dry run, to be)
    return_days: list = field(default_factory=list)  # the same for the returns' figures
    kept: list = field(default_factory=list)  # frozen stored days --since asked for

    def counts(self):
        return {
            "abandoned": self.abandoned,
            "days": len(self.days),
            "return_days": len(self.return_days),
            "kept_frozen": len(self.kept),
        }


def update_analytics(settings=None, since=None, now=None, dry_run=False):
    """Store new abandonment times and refresh the rollups; `since` (a shop day) recomputes
    every closed day from it on, except frozen ones already stored."""
    settings = settings or d.AnalyticsSettings.from_config()
    now = now or utcnow()
    result = AnalyticsRun()
    result.abandoned = mark_abandoned(settings, now, dry_run=dry_run, full=since is not None)
    result.days, result.kept = days_to_compute(settings, now, since)
    result.return_days, _ = days_to_compute(settings, now, since, kind="returns")
    if dry_run:
        db.session.rollback()  # end the reads
        return result
    for first, last in consecutive_runs(result.days):
        while first <= last:
            chunk_last = min(first + timedelta(days=DAYS_PER_TRANSACTION - 1), last)
            run_in_transaction(_store_days, first, chunk_last, settings, now)
            first = chunk_last + timedelta(days=1)
    for first, last in consecutive_runs(result.return_days):
        while first <= last:
            chunk_last = min(first + timedelta(days=DAYS_PER_TRANSACTION - 1), last)
            run_in_transaction(_store_return_days, first, chunk_last, settings, now)
            first = chunk_last + timedelta(days=1)
    return result


def mark_abandoned(settings, now, dry_run=False, full=True):
    """Set abandoned_at on the carts abandoned by `now` (set-based, a batch of ids per
    transaction). An hourly run only looks at carts active within the changing days; a full
    one (the first, or --since) at every cart."""
    c = IncompleteOrder
    condition = d.newly_abandoned(settings, now)
    full = full or not db.session.scalar(select(func.count()).select_from(RolledDay))
    if not full:
        recent = now - timedelta(days=settings.changing_days)
        condition = condition & (c.last_activity_at >= recent)
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(c).where(condition))
    if not full:  # the carts of the last few weeks: one short statement
        return run_in_transaction(
            lambda: (
                db.session.execute(
                    update(c)
                    .where(condition)
                    .values(abandoned_at=d.abandonment_time(settings))
                    .execution_options(synchronize_session=False)
                ).rowcount
            )
        )
    low, high = db.session.execute(select(func.min(c.id), func.max(c.id))).one()
    db.session.rollback()
    if low is None:
        return 0
    marked = 0
    for first_id in range(low, high + 1, CART_BATCH):
        marked += run_in_transaction(
            lambda first_id=first_id: (
                db.session.execute(
                    update(c)
                    .where(c.id >= first_id, c.id < first_id + CART_BATCH, condition)
                    .values(abandoned_at=d.abandonment_time(settings))
                    .execution_options(synchronize_session=False)
                ).rowcount
            )
        )
    return marked


def frozen_before(settings, now):
    """The first shop day that is not frozen."""
    return shop_today(now) - timedelta(days=settings.retention_days)


def days_to_compute(settings, now, since=None, kind="recovery"):
    """(days to recompute, frozen stored days skipped) — closed shop days, oldest first."""
    yesterday = shop_today(now) - timedelta(days=1)
    stored = set(db.session.scalars(select(RolledDay.day).where(RolledDay.kind == kind)))
    horizon = frozen_before(settings, now)
    if since is not None:
        wanted = days_between(since, yesterday) if since <= yesterday else []
        kept = [day for day in wanted if day < horizon and day in stored]
        return [day for day in wanted if day not in kept], kept
    if kind == "recovery":
        first_time = db.session.scalar(select(func.min(IncompleteOrder.abandoned_at)))
    else:  # the returns' days also hold the orders placed on them
        first_times = db.session.execute(
            select(
                select(func.min(ReturnRequest.submitted_at)).scalar_subquery(),
                select(func.min(Order.placed_at)).scalar_subquery(),
            )
        ).one()
        first_time = min((t for t in first_times if t is not None), default=None)
    if first_time is None:
        return [], []
    first = to_shop_time(first_time).date()
    changing_days = settings.changing_days if kind == "recovery" else settings.returns_changing_days
    changing = yesterday - timedelta(days=changing_days - 1)
    days = [
        day
        for day in days_between(first, yesterday)
        if day not in stored or (day >= changing and day >= horizon)
    ]
    if kind == "returns":
        days = sorted(set(days) | (_days_of_late_orders() & stored))
    return days, []


def _days_of_late_orders():
    """The shop days of the orders reported since the last run of the returns' days (a
    storefront may report yesterday's order today): their stored order counts are stale."""
    last_run = db.session.scalar(
        select(func.max(RolledDay.computed_at)).where(RolledDay.kind == "returns")
    )
    if last_run is None:
        return set()
    placed = db.session.scalars(
        select(Order.placed_at).where(Order.created_at >= last_run - LATE_ORDER_MARGIN)
    )
    return {to_shop_time(at).date() for at in placed}


def _store_return_days(first, last, settings, now):
    db.session.execute(delete(ReturnDay).where(ReturnDay.day >= first, ReturnDay.day <= last))
    db.session.execute(
        delete(RolledDay).where(
            RolledDay.kind == "returns", RolledDay.day >= first, RolledDay.day <= last
        )
    )
    rows = [returns.to_stored(row) for row in returns.return_facts(first, last, settings)]
    if rows:
        db.session.execute(insert(ReturnDay), rows)
    _store_order_days(first, last)
    db.session.execute(
        insert(RolledDay),
        [{"kind": "returns", "day": day, "computed_at": now} for day in days_between(first, last)],
    )


def _store_order_days(first, last):
    """Replace the orders placed on first..last, counted and stored by the database."""
    db.session.execute(delete(OrderDay).where(OrderDay.day >= first, OrderDay.day <= last))
    start, end = day_bounds(first, last)
    _insert_counted(
        OrderDay,
        select(
            shop_day(Order.placed_at, start, end).label("day"),
            func.count().label("orders"),
            func.count(Order.recovered_step).label("recovered_orders"),
        )
        .where(Order.placed_at >= start, Order.placed_at < end)
        .group_by(literal_column("day")),
    )


def _insert_counted(model, statement):
    """Store the rows `statement` counts (a "day" column and `model`'s other columns by
    name) with one INSERT ... SELECT: the rows never come to Python."""
    counted = statement.subquery()
    day = counted.c.day
    if db.session.get_bind().dialect.name == "postgresql":
        day = cast(day, Date)  # the shop day is counted as text
    columns = [column for column in counted.c if column.name != "day"]
    db.session.execute(
        insert(model).from_select(
            ["day", *(column.name for column in columns)],
            select(day.label("day"), *columns),
        )
    )


def _store_days(first, last, settings, now):
    """Replace the stored figures of the shop days first..last (consecutive) with fresh ones."""
    for model in (RecoveryDay, StepDay, HourDay, SkuDay):
        db.session.execute(delete(model).where(model.day >= first, model.day <= last))
    db.session.execute(
        delete(RolledDay).where(
            RolledDay.kind == "recovery", RolledDay.day >= first, RolledDay.day <= last
        )
    )
    # Counted and stored by the database, one statement each: the rows never come to Python
    # (two years of them are 450,000). The steps' two counts are merged here first.
    for model, kind in ((RecoveryDay, "recovery"), (HourDay, "hours"), (SkuDay, "skus")):
        _insert_counted(model, queries.facts_statement(kind, first, last, settings))
    rows = queries.step_facts(first, last, settings)
    if rows:
        db.session.execute(insert(StepDay), rows)
    _store_months(first, last)
    db.session.execute(
        insert(RolledDay),
        [{"kind": "recovery", "day": day, "computed_at": now} for day in days_between(first, last)],
    )


def _store_months(first, last):
    """Rewrite the month rows of the months first..last touch, summed from their stored days
    (in the transaction that rewrote the days, so months and days always agree)."""
    first_month, last_month = first.replace(day=1), last.replace(day=1)
    for day_model, month_model in MONTHS_OF.items():
        days = day_model.__table__
        # A month table's keys are its day table's, or computed from the day (the weekday).
        keys = [c.name for c in month_model.__table__.primary_key.columns if c.name != "day"]
        key_columns = [days.c[k] if k in days.c else weekday(days.c.day) for k in keys]
        figures = [column.name for column in days.columns if not column.primary_key]
        month = month_start(days.c.day)
        summed = select(
            month,
            *key_columns,
            *((func.max if name == "name" else func.sum)(days.c[name]) for name in figures),
        )
        db.session.execute(
            delete(month_model).where(month_model.day >= first_month, month_model.day <= last_month)
        )
        db.session.execute(
            insert(month_model).from_select(
                ["day", *keys, *figures],
                summed.where(
                    days.c.day >= first_month, days.c.day <= month_end(last_month)
                ).group_by(month, *key_columns),
            )
        )
