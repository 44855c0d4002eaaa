"""The reports of /analytics/ and their CSVs, built from queries.read_range: what each table
and chart shows, with rates that say "—" when there is nothing to divide by."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlencode

from flask import url_for

from dashboard.analytics import definitions as d
from dashboard.analytics import queries
from dashboard.analytics.days import days_between, shop_today
from dashboard.analytics.definitions import rate
from dashboard.analytics.holdout import HoldoutReport
from dashboard.analytics.queries import read_range
from dashboard.analytics.return_reports import ReturnsReport, pending_returns
from dashboard.formatting import money
from dashboard.incomplete_orders.models import STAGE_LABELS
from dashboard.timeutil import utcnow

PRESETS = (
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("month", "This month"),
    ("last_month", "Last month"),
)
# The longest range a page or CSV counts: two years of days, and then some.
MAX_DAYS = 800
BY_DAY_FIGURES = ("abandoned", "recovered", "recovered_revenue")  # what "By day" shows


def change(current, previous):
    """The change against the compared period as a fraction, or None when it had nothing."""
    if previous is None or not previous:
        return None
    return (Decimal(current) - Decimal(previous)) / Decimal(previous)


@dataclass(frozen=True)
class Range:
    first: date
    last: date
    compare: str = "previous"  # previous | none
    stage: str | None = None

    @property
    def days(self):
        return (self.last - self.first).days + 1

    def previous(self):
        return Range(
            self.first - timedelta(days=self.days),
            self.first - timedelta(days=1),
            "none",
            self.stage,
        )

    def query(self, **extra):
        """The page's query string parameters, for links and CSVs."""
        args = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.compare != "previous":
            args["compare"] = self.compare
        if self.stage:
            args["stage"] = self.stage
        return {**args, **extra}


def preset_range(name, today):
    if name == "month":
        return today.replace(day=1), today
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return today - timedelta(days=int(name) - 1), today


@lru_cache(maxsize=1024)
def _money_text(minor_units, currency):
    # Most days of a long range have the same few amounts (0.00); Babel is slow per call.
    return money(minor_units, currency)


def today():
    return shop_today(utcnow())


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _pattern_rows(per_value, labels):
    rows = []
    for value, label in labels:
        t = per_value.get((value,))
        abandoned = t["abandoned"] if t else 0
        recovered = t["recovered"] if t else 0
        rows.append(
            {
                "value": value,
                "label": label,
                "abandoned": abandoned,
                "recovered": recovered,
                "rate": rate(recovered, abandoned),
            }
        )
    return rows


# The recovery patterns, read together: one pass over the stored days serves all three.
PATTERNS = (("stage",), ("value_band",), ("customer",))


class PatternReports:
    """Abandonment patterns, a mixin of Reports (kept apart to keep each part short)."""

    def by_stage(self):
        per = self.read("recovery", PATTERNS).by[("stage",)]
        return _pattern_rows(per, STAGE_LABELS.items())

    def by_value_band(self):
        per = self.read("recovery", PATTERNS).by[("value_band",)]
        bands = range(len(d.VALUE_BANDS) + 1)
        return _pattern_rows(
            per, [(b, d.value_band_label(b, self.settings.currency)) for b in bands]
        )

    def by_customer(self):
        per = self.read("recovery", PATTERNS).by[("customer",)]
        return _pattern_rows(per, [("guest", "Guests"), ("registered", "Registered customers")])

    def weekday_hours(self):
        """[weekday][hour] abandoned carts, Monday first, hours of the shop's clock."""
        per = self.read("hours", [("weekday", "hour")]).by[("weekday", "hour")]
        grid = [[0] * 24 for _ in WEEKDAYS]
        for (sunday_first, hour), t in per.items():
            grid[(int(sunday_first) + 6) % 7][int(hour)] += t["abandoned"]
        peak = max((n for row in grid for n in row), default=0)
        return {"grid": grid, "peak": peak, "weekdays": WEEKDAYS, "hours": list(range(24))}

    def top_skus(self, limit=10):
        per = self.read("skus", [("sku",)]).by[("sku",)]
        top = sorted(per.items(), key=lambda item: (-item[1]["carts"], item[0][0]))[:limit]
        names = queries.sku_names([sku for (sku,), _ in top])
        for key, rows in self._live.items():  # today's products, not stored yet
            if key[0] == "skus":
                names.update({row["sku"]: row["name"] for row in rows})
        return [
            {
                "sku": sku,
                "name": names.get(sku, ""),
                "carts": t["carts"],
                "units": t["units"],
                "recovered": t["recovered"],
                "rate": rate(t["recovered"], t["carts"]),
            }
            for (sku,), t in top
        ]


class Reports(PatternReports):
    """The figures of one range, read once per kind and shared by the sections."""

    def __init__(self, range_, settings=None, now=None):
        self.range = range_
        self.settings = settings or d.AnalyticsSettings.from_config()
        self.today = shop_today(now or utcnow())
        self._cache = {}
        self._live = {}
        self._list_base = None
        self._list_filters = {}
        # The list links' stage filter, quoted once for the page's 1,460 links.
        self._list_stage = "&" + urlencode({"stage": range_.stage}) if range_.stage else ""

    def read(self, kind, groupings=(), range_=None, figures=None):
        """read_range of `range_` (the page's), kept for the other sections."""
        range_ = range_ or self.range
        key = (kind, tuple(groupings), range_, figures)
        if key not in self._cache:
            self._cache[key] = read_range(
                kind,
                range_.first,
                range_.last,
                self.settings,
                range_.stage,
                list(groupings),
                self.today,
                self._live,
                figures,
            )
        return self._cache[key]

    def provisional(self, day):
        """Days younger than W can still gain recovered carts."""
        return day > self.today - self.settings.attribution

    # --- summary tiles -----------------------------------------------------------------

    def summary(self):
        current = self.read("recovery").total
        previous = (
            self.read("recovery", range_=self.range.previous()).total
            if self.range.compare == "previous"
            else None
        )
        currency = self.settings.currency

        def tile(name, label, value, before, kind="count", note=None, outcome=None):
            return {
                "name": name,
                "label": label,
                "value": value,
                "previous": before,
                "change": (
                    change(value, before)
                    if kind in ("count", "money") and value is not None
                    else None
                ),
                "kind": kind,
                "note": note,
                "outcome": outcome,
            }

        def money_of(totals, name):
            return totals.money[name].get(currency, 0) if totals else None

        def rate_of(totals, part, whole):
            return rate(totals[part], totals[whole]) if totals else None

        returns = self.returns()
        before = ReturnsReport(self, self.range.previous()) if previous is not None else None
        decision = returns.processing()[0]["median"]
        return [
            tile(
                "abandoned",
                "Abandoned",
                current["abandoned"],
                previous and previous["abandoned"],
                outcome="abandoned",
            ),
            tile(
                "abandoned_value",
                "Abandonment value",
                money_of(current, "abandoned_value"),
                money_of(previous, "abandoned_value"),
                "money",
            ),
            tile(
                "recovered",
                "Recovered",
                current["recovered"],
                previous and previous["recovered"],
                outcome="recovered",
            ),
            tile(
                "rate_emailed",
                "Recovery rate (of emailed)",
                rate_of(current, "recovered", "emailed"),
                rate_of(previous, "recovered", "emailed"),
                "rate",
            ),
            tile(
                "rate_abandoned",
                "Recovery rate (of abandoned)",
                rate_of(current, "recovered", "abandoned"),
                rate_of(previous, "recovered", "abandoned"),
                "rate",
            ),
            tile(
                "revenue",
                "Recovered revenue (gross)",
                money_of(current, "recovered_revenue"),
                money_of(previous, "recovered_revenue"),
                "money",
            ),
            tile(
                "net_revenue",
                "Recovered revenue (net of refunds)",
                money_of(current, "net_recovered_revenue"),
                money_of(previous, "net_recovered_revenue"),
                "money",
            ),
            tile("pending_returns", "Pending returns (now)", pending_returns(), None, "now"),
            tile(
                "decision_median",
                "Median time to a return decision",
                decision,
                before.processing()[0]["median"] if before else None,
                "hours",
            ),
        ]

    def summary_rate(self):
        """The recovery rate of emailed carts."""
        t = self.read("recovery").total
        return rate(t["recovered"], t["emailed"])

    def holdout(self):
        """The recovery holdout's comparison (dashboard.analytics.holdout)."""
        return HoldoutReport(self)

    def returns(self):
        if "returns" not in self._cache:
            self._cache["returns"] = ReturnsReport(self)
        return self._cache["returns"]

    def other_currencies(self):
        """Currencies other than the shop's that carts of the range were in (their money is
        not in the shop-currency tiles; the CSV has a row per currency)."""
        money = self.read("recovery").total.money
        return sorted(
            {cur for amounts in money.values() for cur in amounts} - {self.settings.currency}
        )

    # --- funnel --------------------------------------------------------------------------

    def funnel(self):
        t = self.read("recovery").total
        abandoned = t["abandoned"]
        stages = [
            ("abandoned", "Abandoned", t["abandoned"]),
            ("recoverable", "Recoverable", t["recoverable"]),
            ("emailed", "Emailed", t["emailed"]),
            ("clicked", "Clicked", t["clicked"]),
            ("recovered", "Recovered", t["recovered"]),
        ]
        return {
            "stages": [
                {"name": n, "label": label, "count": count, "share": rate(count, abandoned)}
                for n, label, count in stages
            ],
            "outcomes": [
                {"name": o, "label": d.OUTCOME_LABELS[o], "count": t[o]} for o in d.OUTCOMES
            ],
            "abandoned": abandoned,
            "adds_up": abandoned == sum(t[o] for o in d.OUTCOMES),
        }

    # --- by day --------------------------------------------------------------------------

    def list_url(self, first, last, **filters):
        """The incomplete-orders list of the carts abandoned first..last (and `filters`).
        Built here once per row rather than through url_for: two years are 1,460 links."""
        if self._list_base is None:
            self._list_base = url_for("incomplete_orders.list_incomplete_orders")
        # ISO dates need no quoting.
        url = (
            f"{self._list_base}?abandoned_from={first.isoformat()}"
            f"&abandoned_to={last.isoformat()}{self._list_stage}"
        )
        if not filters:
            return url
        key = tuple(filters.items())
        if key not in self._list_filters:
            self._list_filters[key] = "&" + urlencode(filters)
        return url + self._list_filters[key]

    def by_day(self):
        per_day = self.read("recovery", [("day",)], figures=BY_DAY_FIGURES).by[("day",)]
        currency = self.settings.currency
        rows = []
        for day in days_between(self.range.first, self.range.last):
            t = per_day.get((day,))
            revenue = t.money["recovered_revenue"].get(currency, 0) if t else 0
            rows.append(
                {
                    "day": day,
                    "label": day.strftime("%d %b"),
                    "abandoned": t["abandoned"] if t else 0,
                    "recovered": t["recovered"] if t else 0,
                    "revenue": revenue,
                    "revenue_text": _money_text(revenue, currency),
                    "abandoned_url": self.list_url(day, day),
                    "recovered_url": self.list_url(day, day, outcome="recovered"),
                    "provisional": self.provisional(day),
                }
            )
        return rows

    def recovery_csv_rows(self):
        """One row per day and currency (the shop's currency on days with no carts)."""
        grouping = ("day", "currency")
        per_day = self.read("recovery", [grouping]).by[grouping]
        by_day = {}
        for (day, currency), totals in per_day.items():
            by_day.setdefault(day, []).append((currency, totals))
        for day in days_between(self.range.first, self.range.last):
            entries = sorted(by_day.get(day, []), key=lambda e: e[0]) or [
                (self.settings.currency, None)
            ]
            for currency, t in entries:
                yield day, currency, t, self.provisional(day)

    # --- per step ------------------------------------------------------------------------

    def steps(self):
        per_step = self.read("steps", [("step",)]).by[("step",)]
        currency = self.settings.currency
        rows = []
        for (step,), t in sorted(per_step.items()):
            revenue = t.money["recovered_revenue"].get(currency, 0)
            rows.append(
                {
                    "step": step,
                    "label": f"Step {step}",
                    "sent": t["sent"],
                    "failed": t["failed"],
                    "withdrawn": t["withdrawn"],
                    "clicked": t["clicked"],
                    "click_rate": rate(t["clicked"], t["sent"]),
                    "recovered": t["recovered"],
                    "recovery_rate": rate(t["recovered"], t["sent"]),
                    "revenue": revenue,
                    "revenue_per_email": (
                        (Decimal(revenue) / t["sent"]).quantize(Decimal(1)) if t["sent"] else None
                    ),
                    "unsubscribed": t["unsubscribed"],
                    "money": t.money,
                }
            )
        return rows
