"""Reads: the figures of a range of shop days, from the rollups for the days they hold and
counted live from the carts for the others (today, and any day no run has stored yet).

Both paths produce the same rows, `Fact`s keyed by the breakdown they are counted in; the
live counts are exactly what a run stores (the rollup calls `recovery_facts` and friends),
so a day reads the same before and after it is rolled up.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import String, and_, case, cast, exists, func, literal, literal_column, not_, select

from dashboard.analytics import definitions as d
from dashboard.analytics.days import (
    consecutive_runs,
    day_bounds,
    days_between,
    month_end,
    read_day,
    shop_day,
    shop_hour,
    weekday,
    whole_months,
)
from dashboard.analytics.models import (
    MONTHS_OF,
    HourDay,
    RecoveryDay,
    RolledDay,
    SkuDay,
    StepDay,
)
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderItem
from dashboard.orders.models import Order
from dashboard.outbox.models import WENT_OUT, OutboxMessage
from dashboard.recovery.models import RecoveryAttempt, Suppression

c = IncompleteOrder

# Statements are built once per range, settings and breakdown, and kept: building one of the
# larger ones took longer than the database takes to answer it. A statement holds no
# connection or result, so one serves every request and thread.
STATEMENTS = 256

RECOVERY_KEYS = ("day", "stage", "currency", "value_band", "customer")
HOLDOUT_COUNTS = (
    "held_out",
    "held_out_converted",
    "not_held_out",
    "not_held_out_emailed",
    "not_held_out_converted",
)
HOLDOUT_MONEY = ("held_out_revenue", "not_held_out_revenue")
RECOVERY_COUNTS = (
    "abandoned",
    "recoverable",
    "emailed",
    "clicked",
    "recovered",
    "recovered_clicked",
    "late",
    "self_converted",
    "lost",
    "still_open",
    *HOLDOUT_COUNTS,
)
RECOVERY_MONEY = ("abandoned_value", "recovered_revenue", "net_recovered_revenue", *HOLDOUT_MONEY)
STEP_KEYS = ("day", "step", "stage", "currency")
STEP_COUNTS = ("sent", "failed", "withdrawn", "clicked", "recovered", "unsubscribed")
STEP_MONEY = ("recovered_revenue",)
HOUR_KEYS = ("day", "hour", "stage")
HOUR_COUNTS = ("abandoned", "recovered")


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition, value):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _grouped(stmt, keys):
    """Rows of `stmt` as dicts, the day read back as a date."""
    rows = []
    result = db.session.execute(stmt)
    names = list(result.keys())
    for values in result:
        row = dict(zip(names, values, strict=True))
        if "day" in row:
            row["day"] = read_day(row["day"])
        rows.append(row)
    return rows


def _group_by(*names):
    # Computed keys by their output names (PostgreSQL would see the day's CASE twice, with
    # different parameters, and refuse to group by it); the cart's columns as columns (an
    # output name like "currency" is ambiguous beside orders.currency).
    columns = {"stage": c.stage, "currency": c.currency}
    return [columns.get(name, literal_column(name)) for name in names]


def recovery_facts(first, last, settings, stage=None):
    """Carts abandoned on the shop days first..last, counted per RECOVERY_KEYS."""
    return _grouped(_recovery_facts_statement(first, last, settings, stage), RECOVERY_KEYS)


@lru_cache(maxsize=STATEMENTS)
def _recovery_facts_statement(first, last, settings, stage):
    start, end = day_bounds(first, last)
    recovered = d.recovered(settings)
    stmt = (
        select(
            shop_day(c.abandoned_at, start, end).label("day"),
            c.stage.label("stage"),
            c.currency.label("currency"),
            d.value_band().label("value_band"),
            d.customer_kind().label("customer"),
            func.count().label("abandoned"),
            func.coalesce(func.sum(c.subtotal), 0).label("abandoned_value"),
            _count_if(d.recoverable(settings)).label("recoverable"),
            _count_if(d.emailed()).label("emailed"),
            _count_if(d.clicked()).label("clicked"),
            _count_if(recovered).label("recovered"),
            _count_if(and_(recovered, d.clicked())).label("recovered_clicked"),
            _sum_if(recovered, Order.total).label("recovered_revenue"),
            _sum_if(recovered, Order.total - Order.refunded_total).label("net_recovered_revenue"),
            _count_if(d.late(settings)).label("late"),
            _count_if(d.self_converted()).label("self_converted"),
            _count_if(d.lost()).label("lost"),
            _count_if(d.still_open()).label("still_open"),
            *_holdout_columns(settings),
        )
        .select_from(c)
        .outerjoin(Order, Order.incomplete_order_id == c.id)
        .where(d.abandoned_between(start, end), *_stage(stage))
        .group_by(*_group_by(*RECOVERY_KEYS))
    )
    return stmt


def _holdout_columns(settings):
    """The recovery holdout's comparison: each group's carts, conversions and revenue."""
    in_test = d.in_holdout_test(settings)
    held, not_held, converted = d.held_out(), d.not_held_out(), d.converted()
    return [
        _count_if(and_(in_test, held)).label("held_out"),
        _count_if(and_(in_test, held, converted)).label("held_out_converted"),
        _sum_if(and_(in_test, held, converted), Order.total).label("held_out_revenue"),
        _count_if(and_(in_test, not_held)).label("not_held_out"),
        _count_if(and_(in_test, not_held, d.emailed())).label("not_held_out_emailed"),
        _count_if(and_(in_test, not_held, converted)).label("not_held_out_converted"),
        _sum_if(and_(in_test, not_held, converted), Order.total).label("not_held_out_revenue"),
    ]


def _stage(stage):
    return [c.stage == stage] if stage else []


def step_facts(first, last, settings, stage=None):
    """The recovery emails of the carts abandoned first..last, counted per STEP_KEYS."""
    emails, wins = _step_facts_statements(first, last, settings, stage)
    merged = {}
    for row in _grouped(emails, STEP_KEYS) + _grouped(wins, STEP_KEYS):
        key = tuple(row[k] for k in STEP_KEYS)
        target = merged.setdefault(
            key, {**dict(zip(STEP_KEYS, key, strict=True)), **_zeros(STEP_COUNTS + STEP_MONEY)}
        )
        for name in STEP_COUNTS + STEP_MONEY:
            target[name] += row.get(name, 0)
    return list(merged.values())


@lru_cache(maxsize=STATEMENTS)
def _step_facts_statements(first, last, settings, stage):
    start, end = day_bounds(first, last)
    day = shop_day(c.abandoned_at, start, end).label("day")
    a, m = RecoveryAttempt, OutboxMessage
    later = RecoveryAttempt.__table__.alias("later")
    dedupe_key = literal("recovery:") + cast(c.id, String) + literal(":") + cast(a.step, String)
    unsubscribed_after_this_step = and_(
        m.status.in_(WENT_OUT),
        exists().where(
            Suppression.email == c.email,
            Suppression.created_at >= m.sent_at,
            not_(
                exists()
                .where(
                    later.c.incomplete_order_id == c.id,
                    later.c.step > a.step,
                    later.c.sent_at <= Suppression.created_at,
                )
                .correlate_except(later)
            ),
        ),
    )
    emails = (
        select(
            day,
            a.step.label("step"),
            c.stage.label("stage"),
            c.currency.label("currency"),
            _count_if(m.status.in_(WENT_OUT)).label("sent"),
            _count_if(m.status == "failed").label("failed"),
            _count_if(m.status == "withdrawn").label("withdrawn"),
            _count_if(and_(m.status.in_(WENT_OUT), a.clicked_at.is_not(None))).label("clicked"),
            _count_if(unsubscribed_after_this_step).label("unsubscribed"),
        )
        .select_from(c)
        .join(a, a.incomplete_order_id == c.id)
        .outerjoin(m, m.dedupe_key == dedupe_key)
        .where(d.abandoned_between(start, end), *_stage(stage))
        .group_by(*_group_by(*STEP_KEYS))
    )
    # Each recovered cart once, to the last step that went out before it converted.
    credited = func.coalesce(Order.recovered_step, c.recovery_attempts)
    wins = (
        select(
            day,
            credited.label("step"),
            c.stage.label("stage"),
            c.currency.label("currency"),
            func.count().label("recovered"),
            func.coalesce(func.sum(Order.total), 0).label("recovered_revenue"),
        )
        .select_from(c)
        .join(Order, Order.incomplete_order_id == c.id)
        .where(d.abandoned_between(start, end), d.recovered(settings), *_stage(stage))
        .group_by(*_group_by(*STEP_KEYS))
    )
    return emails, wins


def hour_facts(first, last, settings, stage=None):
    """Carts abandoned first..last, per hour of the shop's clock they were abandoned in."""
    return _grouped(_hour_facts_statement(first, last, settings, stage), HOUR_KEYS)


@lru_cache(maxsize=STATEMENTS)
def _hour_facts_statement(first, last, settings, stage):
    start, end = day_bounds(first, last)
    stmt = (
        select(
            shop_day(c.abandoned_at, start, end).label("day"),
            shop_hour(c.abandoned_at, start, end).label("hour"),
            c.stage.label("stage"),
            func.count().label("abandoned"),
            _count_if(d.recovered(settings)).label("recovered"),
        )
        .select_from(c)
        .where(d.abandoned_between(start, end), *_stage(stage))
        .group_by(*_group_by(*HOUR_KEYS))
    )
    return stmt


def facts_statement(kind, first, last, settings):
    """The statement that counts the live figures of `kind` (recovery | hours | skus) for
    first..last, for a run to store them as the database gives them."""
    build = {
        "recovery": _recovery_facts_statement,
        "hours": _hour_facts_statement,
        "skus": _sku_facts_statement,
    }[kind]
    return build(first, last, settings, None)


def _zeros(names):
    return dict.fromkeys(names, 0)


# --- a range: rollups where stored, live elsewhere ------------------------------------------


def rolled_days(kind, first, last):
    return set(
        db.session.scalars(
            select(RolledDay.day).where(
                RolledDay.kind == kind, RolledDay.day >= first, RolledDay.day <= last
            )
        )
    )


def days_to_count_live(kind, first, last, today):
    """(stored days, days to count live) of first..last. A run stores every closed day from
    the first one anything happened on; the days before the first stored day are empty, so
    only later ones (today, a day no run has stored yet) are counted live."""
    stored = {day for day in rolled_days(kind, first, last) if day < today}
    earliest = db.session.scalar(select(func.min(RolledDay.day)).where(RolledDay.kind == kind))
    live = [
        day
        for day in days_between(first, last)
        if day not in stored and (earliest is None or day >= earliest)
    ]
    return stored, live


@dataclass
class Totals:
    """Summed figures: counts, and money per currency {currency: minor units}."""

    counts: dict = field(default_factory=lambda: defaultdict(int))
    money: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, row, counts, money):
        totals = self.counts
        for name in counts:
            totals[name] += row[name] or 0
        if money:
            currency = row["currency"]
            for name in money:
                self.money[name][currency] += row[name] or 0

    def __getitem__(self, name):
        return self.counts[name]


def _key_column(model, key):
    """A stored key's column; "weekday" (0 = Sunday) is computed from the day where it is
    not stored."""
    if key == "weekday" and "weekday" not in model.__table__.c:
        return weekday(model.day).label("weekday")
    return getattr(model, key)


def _rollup_rows(model, keys, counts, money, first, last, stage, group):
    """Stored rows of `model` for first..last, summed per `group` (+ currency if it has one)."""
    result = db.session.execute(
        _rollup_statement(model, keys, counts, money, first, last, stage, group)
    )
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]


@lru_cache(maxsize=STATEMENTS)
def _rollup_statement(model, keys, counts, money, first, last, stage, group):
    has_currency = "currency" in keys
    group_cols = [_key_column(model, k) for k in group] + ([model.currency] if has_currency else [])
    stmt = (
        select(
            *group_cols,
            *(func.sum(getattr(model, n)).label(n) for n in (*counts, *money)),
        )
        .where(model.day >= first, model.day <= last, *([model.stage == stage] if stage else []))
        .group_by(
            *(literal_column(k) if k == "weekday" else getattr(model, k) for k in group),
            *([model.currency] if has_currency else []),
        )
    )
    return stmt


def _stored_rows(model, keys, counts, money, first, last, stage, group):
    """_rollup_rows of first..last, the calendar months wholly inside it read from the month
    table (when `model` has one and `group` has no day), the days around them from `model`."""
    months = MONTHS_OF.get(model) if "day" not in group else None
    whole = months and whole_months(first, last)
    if not whole:
        return _rollup_rows(model, keys, counts, money, first, last, stage, group)
    first_month, last_month = whole
    rows = _rollup_rows(months, keys, counts, money, first_month, last_month, stage, group)
    for edge_first, edge_last in (
        (first, first_month - timedelta(days=1)),
        (month_end(last_month) + timedelta(days=1), last),
    ):
        if edge_first <= edge_last:
            rows += _rollup_rows(model, keys, counts, money, edge_first, edge_last, stage, group)
    return rows


def _with_weekday(row):
    return {**row, "weekday": (row["day"].weekday() + 1) % 7}


@dataclass
class Breakdown:
    """Totals overall and per value of each requested grouping: {grouping: {value: Totals}}."""

    total: Totals
    by: dict


def read_range(kind, first, last, settings, stage, groupings, today, live_cache=None, figures=None):
    """The figures of `kind` (recovery | steps | hours | skus) for first..last, summed overall
    and per each grouping in `groupings` (tuples of key names; "weekday", 0 = Sunday, is the
    day's). The stored days are read once, summed by the database per every key the
    groupings name; `figures` (names) sums only those, the others read 0 (two years by day
    are 29,000 stored rows: summing 3 columns of them instead of 26 takes a third of the
    time). `live_cache` (a dict) keeps the live counts for the next read of the same range."""
    model, keys, counts, money, live = {
        "recovery": (RecoveryDay, RECOVERY_KEYS, RECOVERY_COUNTS, RECOVERY_MONEY, recovery_facts),
        "steps": (StepDay, STEP_KEYS, STEP_COUNTS, STEP_MONEY, step_facts),
        "hours": (HourDay, HOUR_KEYS, HOUR_COUNTS, (), hour_facts),
        "skus": (SkuDay, SKU_KEYS, SKU_COUNTS, (), sku_facts),
    }[kind]
    if figures is not None:
        counts = tuple(name for name in counts if name in figures)
        money = tuple(name for name in money if name in figures)
    # A run stores closed days only: anything from today on is counted live.
    cache = live_cache if live_cache is not None else {}
    days_key = ("days", first, last, today)
    if days_key not in cache:
        cache[days_key] = days_to_count_live("recovery", first, last, today)
    stored, live_days = cache[days_key]
    cache_key = (kind, first, last, stage, tuple(live_days))
    if cache_key not in cache:
        cache[cache_key] = [
            row
            for run_first, run_last in consecutive_runs(live_days)
            for row in live(run_first, run_last, settings, stage)
        ]
    rows = cache[cache_key]
    named = tuple(dict.fromkeys(key for grouping in groupings for key in grouping))
    if "weekday" in named:
        rows = [_with_weekday(row) for row in rows]
    if stored:
        rows = rows + _stored_rows(model, keys, counts, money, first, last, stage, named)

    breakdown = Breakdown(Totals(), {g: defaultdict(Totals) for g in groupings})
    for row in rows:
        breakdown.total.add(row, counts, money)
        for grouping in groupings:
            breakdown.by[grouping][tuple(row[k] for k in grouping)].add(row, counts, money)
    return breakdown


SKU_KEYS = ("day", "sku", "stage")
SKU_COUNTS = ("carts", "units", "recovered")


def sku_facts(first, last, settings, stage=None):
    """The products of the carts abandoned first..last, per SKU_KEYS (with the name)."""
    return _grouped(_sku_facts_statement(first, last, settings, stage), SKU_KEYS)


@lru_cache(maxsize=STATEMENTS)
def _sku_facts_statement(first, last, settings, stage):
    start, end = day_bounds(first, last)
    item = IncompleteOrderItem
    stmt = (
        select(
            shop_day(c.abandoned_at, start, end).label("day"),
            item.sku.label("sku"),
            c.stage.label("stage"),
            func.max(item.name).label("name"),
            func.count(func.distinct(item.incomplete_order_id)).label("carts"),
            func.coalesce(func.sum(item.quantity), 0).label("units"),
            func.count(func.distinct(case((d.recovered(settings), c.id)))).label("recovered"),
        )
        .select_from(c)
        .join(item, item.incomplete_order_id == c.id)
        .where(d.abandoned_between(start, end), *_stage(stage))
        .group_by(literal_column("day"), item.sku, c.stage)
    )
    return stmt


def sku_names(skus):
    """{sku: name} as the newest stored day has it (an index seek per SKU)."""
    if not skus:
        return {}
    newest = (
        select(SkuDay.name).where(SkuDay.sku == sku).order_by(SkuDay.day.desc()).limit(1)
        for sku in skus
    )
    names = db.session.execute(select(*(q.scalar_subquery() for q in newest))).one()
    return {sku: name for sku, name in zip(skus, names, strict=True) if name is not None}
