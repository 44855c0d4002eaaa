"""The returns report of /analytics/ and /analytics/returns.csv: stored days from the rollup,
the others (today, days no run stored yet) counted live."""

from collections import defaultdict
from functools import cached_property

from sqlalchemy import func, select

from dashboard.analytics import returns as r
from dashboard.analytics.days import days_between
from dashboard.analytics.definitions import rate
from dashboard.analytics.queries import days_to_count_live
from dashboard.extensions import db
from dashboard.returns.models import REASON_LABELS, REFUND_METHODS, TYPE_LABELS, ReturnRequest

CHART_FIGURES = ("requests", "completed")


class ReturnsReport:
    def __init__(self, reports, range_=None):
        self.reports = reports
        self.range = range_ or reports.range
        self.settings = reports.settings
        first, last = self.range.first, self.range.last
        self.stored, self.live = days_to_count_live("returns", first, last, reports.today)
        # The stored days are summed by the database, per breakdown when one is read; the
        # live ones (today, days no run stored yet) are counted here and added on.
        self.live_rows = []
        if self.live:
            live_days = set(self.live)
            rows = r.return_facts(self.live[0], self.live[-1], self.settings)
            self.live_rows = [row for row in rows if row["day"] in live_days]
        self._by = {}

    def by(self, key):
        """{value of `key` ("day" | "type" | "reason"): ReturnTotals}, summed when first
        read (the summary reads none). Type and reason come from one pass."""
        if key not in self._by:
            keys = ("day",) if key == "day" else ("type", "reason")
            pairs = self._summed(keys)
            for name in keys:
                self._by[name] = defaultdict(r.ReturnTotals)
            for values, totals in pairs.items():
                for name, value in zip(keys, values, strict=True):
                    self._by[name][value].add_totals(totals)
        return self._by[key]

    def _summed(self, keys, counts=r.COUNTS, money=r.MONEY):
        """{values of `keys`: ReturnTotals} of the stored and the live days (only `counts`
        and `money`)."""
        pairs = r.stored_by(keys, self.range.first, self.range.last, self.stored, counts, money)
        for row in self.live_rows:
            pairs[tuple(row[k] for k in keys)].add_rows([row], False, counts, money)
        return pairs

    @cached_property
    def total(self):
        total = r.ReturnTotals()
        for totals in self.by("type").values():
            total.add_totals(totals)
        for name, histogram in r.stored_histograms(
            self.range.first, self.range.last, self.stored
        ).items():
            total.add_histogram(name, histogram)
        for row in self.live_rows:
            for name in r.HISTOGRAMS:
                total.add_histogram(name, row[name])
        return total

    def by_day(self):
        """Every figure per day, for the CSV."""
        currency = self.settings.currency
        per_day, nothing = self.by("day"), r.ReturnTotals()
        out = []
        for day in days_between(self.range.first, self.range.last):
            t = per_day.get(day) or nothing
            out.append(
                {
                    "day": day,
                    "label": day.strftime("%d %b"),
                    **{name: t[name] for name in r.COUNTS},
                    "refunded": t.money["refunded"].get(currency, 0),
                    "money": t.money,
                }
            )
        return out

    def chart_days(self):
        """{"labels", "requests", "completed"}: the chart's days, read with those two figures
        only (two years are 730 days of about ten stored rows each)."""
        per_day = self._summed(("day",), CHART_FIGURES, ())
        labels, series = [], {name: [] for name in CHART_FIGURES}
        for day in days_between(self.range.first, self.range.last):
            labels.append(day.strftime("%d %b"))
            t = per_day.get((day,))
            for name in CHART_FIGURES:
                series[name].append(t[name] if t else 0)
        return {"labels": labels, **series}

    def by_type(self):
        return [
            {
                "label": label,
                "requests": self.by("type")[key]["requests"],
                "units": self.by("type")[key]["units"],
            }
            for key, label in TYPE_LABELS.items()
        ]

    def reasons(self):
        rows = []
        for key, label in REASON_LABELS.items():
            t = self.by("reason")[key]
            decided = t["approved"] + t["rejected"]
            rows.append(
                {
                    "label": label,
                    "requests": t["requests"],
                    "approved": t["approved"],
                    "rejected": t["rejected"],
                    "approval_rate": rate(t["approved"], decided),
                }
            )
        return rows

    def processing(self):
        h = self.total.histograms
        decided = self.total["approved"] + self.total["rejected"]
        return [
            {
                "label": "Decision (from submission)",
                "count": decided,
                "median": r.percentile(h["decision_hours"], 0.5),
                "p90": r.percentile(h["decision_hours"], 0.9),
                "within_sla": rate(self.total["decided_within_sla"], decided),
            },
            {
                "label": "Receipt (from approval)",
                "count": self.total["received"],
                "median": r.percentile(h["receipt_hours"], 0.5),
                "p90": r.percentile(h["receipt_hours"], 0.9),
                "within_sla": None,
            },
            {
                "label": "Completion (from receipt, or approval)",
                "count": self.total["completed"],
                "median": r.percentile(h["completion_hours"], 0.5),
                "p90": r.percentile(h["completion_hours"], 0.9),
                "within_sla": None,
            },
        ]

    def refunds(self):
        currency = self.settings.currency
        return [
            {
                "label": REFUND_METHODS["original_payment"],
                "amount": self.total.money["refunded_original_payment"].get(currency, 0),
            },
            {
                "label": REFUND_METHODS["store_credit"],
                "amount": self.total.money["refunded_store_credit"].get(currency, 0),
            },
            {"label": REFUND_METHODS["replacement"], "count": self.total["replacements"]},
        ]

    def return_rates(self):
        recovered_orders, other_orders = r.orders_placed(
            self.range.first, self.range.last, self.stored, self.live
        )
        on_recovered = self.total["requests_on_recovered_orders"]
        other = self.total["requests"] - on_recovered
        return [
            {
                "label": "Recovered orders",
                "orders": recovered_orders,
                "requests": on_recovered,
                "rate": rate(on_recovered, recovered_orders),
            },
            {
                "label": "Other orders",
                "orders": other_orders,
                "requests": other,
                "rate": rate(other, other_orders),
            },
        ]


def pending_returns():
    return db.session.scalar(
        select(func.count()).select_from(ReturnRequest).where(ReturnRequest.status == "pending")
    )
