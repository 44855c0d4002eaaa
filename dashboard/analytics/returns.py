"""Returns analytics: each request counted on the shop day of each of its events — submitted
(volume, reasons), decided (approved or rejected, time to decision), received and completed
(processing times, refunds). Times are histograms of hours (HOURS_BUCKETS), so stored days add
up and the median and 90th percentile come from the sum."""

import json
from bisect import bisect_right
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from dashboard.analytics.days import consecutive_runs, day_bounds, days_between
from dashboard.analytics.models import OrderDay, ReturnDay
from dashboard.extensions import db
from dashboard.orders.models import Order
from dashboard.returns.models import MONEY_METHODS, ReturnRequest
from dashboard.timeutil import shop_day_start_utc

# Upper bounds in hours; a last bucket holds everything longer.
HOURS_BUCKETS = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504, 720)
KEYS = ("day", "type", "reason", "currency")
COUNTS = (
    "requests",
    "units",
    "requests_on_recovered_orders",
    "approved",
    "rejected",
    "decided_within_sla",
    "received",
    "completed",
    "replacements",
)
MONEY = ("refunded", "refunded_original_payment", "refunded_store_credit")
HISTOGRAMS = ("decision_hours", "receipt_hours", "completion_hours")


def bucket(delta):
    hours = delta.total_seconds() / 3600
    for index, bound in enumerate(HOURS_BUCKETS):
        if hours <= bound:
            return index
    return len(HOURS_BUCKETS)


def empty_histogram():
    return [0] * (len(HOURS_BUCKETS) + 1)


def percentile(histogram, share):
    """The upper bound (hours) of the bucket the `share` percentile falls in; None if empty;
    float('inf') past the last bound."""
    total = sum(histogram)
    if not total:
        return None
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= share * total:
            return HOURS_BUCKETS[index] if index < len(HOURS_BUCKETS) else float("inf")
    return float("inf")


def return_facts(first, last, settings):
    """Rows per KEYS for the shop days first..last, as ReturnDay stores them.

    One read per event, of only the columns that event counts; a time's shop day is found
    among the days' UTC starts (a bisection, not a time zone conversion per request)."""
    start, end = day_bounds(first, last)
    days = days_between(first, last)
    starts = [shop_day_start_utc(day) for day in days]
    r = ReturnRequest
    rows = {}

    def row(at, request):
        key = (days[bisect_right(starts, at) - 1], request.type, request.reason, request.currency)
        target = rows.get(key)
        if target is None:
            target = rows[key] = {
                **dict(zip(KEYS, key, strict=True)),
                **dict.fromkeys(COUNTS + MONEY, 0),
                **{h: empty_histogram() for h in HISTOGRAMS},
            }
        return target

    def read(at, *columns, joined=False):
        stmt = select(r.type, r.reason, r.currency, at.label("at"), *columns).where(
            at >= start, at < end
        )
        if joined:
            stmt = stmt.join(Order, Order.id == r.order_id)
        return db.session.execute(stmt)

    for q in read(r.submitted_at, r.units_requested, Order.recovered_step, joined=True):
        target = row(q.at, q)
        target["requests"] += 1
        target["units"] += q.units_requested
        if q.recovered_step is not None:
            target["requests_on_recovered_orders"] += 1
    sla = timedelta(hours=settings.decision_sla_hours)
    for q in read(r.decided_at, r.status, r.submitted_at):
        target = row(q.at, q)
        target["rejected" if q.status == "rejected" else "approved"] += 1
        waited = q.at - q.submitted_at
        target["decided_within_sla"] += waited <= sla
        target["decision_hours"][bucket(waited)] += 1
    for q in read(r.received_at, func.coalesce(r.decided_at, r.submitted_at).label("since")):
        target = row(q.at, q)
        target["received"] += 1
        target["receipt_hours"][bucket(q.at - q.since)] += 1
    since = func.coalesce(r.received_at, r.decided_at, r.submitted_at).label("since")
    for q in read(r.completed_at, since, r.refund_amount, r.refund_method):
        target = row(q.at, q)
        target["completed"] += 1
        target["completion_hours"][bucket(q.at - q.since)] += 1
        if q.refund_method in MONEY_METHODS:
            amount = q.refund_amount or 0
            target["refunded"] += amount
            target[f"refunded_{q.refund_method}"] += amount
        elif q.refund_method == "replacement":
            target["replacements"] += 1
    return list(rows.values())


def to_stored(row):
    return {**row, **{name: json.dumps(row[name]) for name in HISTOGRAMS}}


class ReturnTotals:
    """Summed figures of some rows; the histograms only where asked for (the processing
    times are read for a whole range, never per day, type or reason)."""

    def __init__(self):
        self.counts = defaultdict(int)
        self.money = defaultdict(lambda: defaultdict(int))
        self.histograms = defaultdict(empty_histogram)  # made when first added to or read

    def add_rows(self, rows, histograms=True, counts=COUNTS, money=MONEY):
        for row in rows:
            for name in counts:
                self.counts[name] += row[name]
            for name in money:
                if row[name]:
                    self.money[name][row["currency"]] += row[name]
            if histograms:
                for name in HISTOGRAMS:
                    self.add_histogram(name, row[name])

    def add_totals(self, other):
        """Add another ReturnTotals' counts and money (not its histograms)."""
        for name, value in other.counts.items():
            self.counts[name] += value
        for name, amounts in other.money.items():
            for currency, amount in amounts.items():
                self.money[name][currency] += amount

    def add_histogram(self, name, histogram, times=1):
        total = self.histograms[name]
        for index, count in enumerate(histogram):
            total[index] += count * times

    def __getitem__(self, name):
        return self.counts[name]


def _stored(first, last, days, figures=COUNTS + MONEY):
    """The stored rows of first..last: every row up to the newest stored day is a stored
    day's (a run writes a day's rows and its mark together), so no list of days is sent."""
    t = ReturnDay.__table__
    where = (t.c.day >= first, t.c.day <= min(last, max(days)))
    return t, where, [func.sum(t.c[name]).label(name) for name in figures]


def stored_by(keys, first, last, days, counts=COUNTS, money=MONEY):
    """{values of `keys` (a tuple of day, type, reason): ReturnTotals without histograms} of
    the stored `days` of first..last, summed by the database in one pass; only `counts` and
    `money` (names), the others read 0."""
    by = defaultdict(ReturnTotals)
    if not days:
        return by
    t, where, sums = _stored(first, last, days, counts + money)
    group = (*(t.c[key] for key in keys), t.c.currency)
    result = db.session.execute(select(*group, *sums).where(*where).group_by(*group))
    names = list(result.keys())  # once: a row's own keys() costs a quarter millisecond
    for values in result:
        row = dict(zip(names, values, strict=True))
        by[tuple(row[key] for key in keys)].add_rows([row], False, counts, money)
    return by


def stored_histograms(first, last, days):
    """{histogram name: summed histogram} of the stored `days` of first..last. Most rows
    hold the same few histograms: the database counts each distinct one once, and each is
    parsed once (two years are ~7,000 stored rows and ~120 distinct histograms of each)."""
    total = ReturnTotals()
    if days:
        t, where, _ = _stored(first, last, days)
        for name in HISTOGRAMS:
            column = t.c[name]
            stmt = select(column, func.count()).where(*where).group_by(column)
            for text, times in db.session.execute(stmt):
                total.add_histogram(name, json.loads(text), times)
    return total.histograms


def orders_placed(first, last, stored, live):
    """(recovered, other) orders placed on the shop days first..last: the `stored` days'
    counts summed, the `live` ones (today, days no run stored yet) counted."""
    recovered = total = 0
    if stored:
        t = OrderDay.__table__
        stored_recovered, stored_total = db.session.execute(
            select(func.sum(t.c.recovered_orders), func.sum(t.c.orders)).where(
                t.c.day >= first, t.c.day <= min(last, max(stored))
            )
        ).one()
        recovered, total = stored_recovered or 0, stored_total or 0
    for run_first, run_last in consecutive_runs(live):
        start, end = day_bounds(run_first, run_last)
        live_recovered, live_total = db.session.execute(
            select(func.count(Order.recovered_step), func.count()).where(
                Order.placed_at >= start, Order.placed_at < end
            )
        ).one()
        recovered, total = recovered + live_recovered, total + live_total
    return recovered, total - recovered
