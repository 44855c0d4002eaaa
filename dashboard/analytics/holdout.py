"""Measuring recovery: the carts held out of every recovery email (RECOVERY_HOLDOUT_PERCENT,
dashboard.recovery.holdout) against the ones that were not, abandoned in the same days.

The groups are compared as they were assigned, whatever then happened to each cart: the
emailed group is every cart in the comparison that was not held out, emailed in the end or
not (a cart whose customer bought elsewhere before the first email, say). Comparing only
the carts actually emailed would leave out exactly those, and flatter the emails.

    conversion rate  p = converted ÷ carts, per group
    lift             p₁ − p₀ (emailed group minus held out), with Newcombe's 95% interval
                     (the hybrid score interval: from the two groups' Wilson intervals)
    added revenue    R − p₀ × n × m = (p₁ − p₀) × n × m, where n, R are the emailed group's
                     carts and revenue and m = R ÷ its conversions (the mean order value);
                     its interval is the lift's times n × m (m taken as known)
"""

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from flask import current_app

from dashboard.analytics.definitions import rate

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(successes, trials, z=Z95):
    """Wilson's score interval for successes ÷ trials, or None when trials is 0."""
    if not trials:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(successes_1, trials_1, successes_0, trials_0, z=Z95):
    """The 95% interval of p₁ − p₀ (Newcombe 1998, method 10), or None when either group is
    empty. Unlike the plain normal (Wald) interval it stays inside −1..1 and is not zero
    wide when a group converted none or all."""
    one = wilson_interval(successes_1, trials_1, z)
    zero = wilson_interval(successes_0, trials_0, z)
    if one is None or zero is None:
        return None
    p1, p0 = successes_1 / trials_1, successes_0 / trials_0
    (l1, u1), (l0, u0) = one, zero
    lift = p1 - p0
    return (
        lift - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        lift + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


def _minor_units(value):
    return int(Decimal(value).quantize(Decimal(1), ROUND_HALF_EVEN))


@dataclass
class Group:
    key: str  # the list's "holdout" filter
    label: str
    carts: int
    converted: int
    revenue: int  # minor units of the shop's currency
    emailed: int | None = None  # of the emailed group: how many were actually emailed

    @property
    def conversion_rate(self):
        return rate(self.converted, self.carts)


class HoldoutReport:
    """The comparison for the range of `reports` (a Reports)."""

    def __init__(self, reports):
        self.reports = reports
        self.percent = current_app.config.get("RECOVERY_HOLDOUT_PERCENT", 0)
        t = reports.read("recovery").total
        currency = reports.settings.currency
        self.emailed = Group(
            "emailed_group",
            "Emailed group",
            t["not_held_out"],
            t["not_held_out_converted"],
            t.money["not_held_out_revenue"].get(currency, 0),
            emailed=t["not_held_out_emailed"],
        )
        self.held_out = Group(
            "held_out",
            "Held out",
            t["held_out"],
            t["held_out_converted"],
            t.money["held_out_revenue"].get(currency, 0),
        )
        # Money is of the carts in the shop's currency: the added revenue is computed from
        # them alone, so a rate and a mean order value never mix currencies.
        per_currency = reports.read("recovery", [("currency",)]).by[("currency",)]
        self._shop = per_currency.get((currency,))
        self.other_currencies = sorted(
            cur
            for (cur,), totals in per_currency.items()
            if cur != currency and totals["not_held_out"] + totals["held_out"]
        )

    @property
    def active(self):
        """The holdout is on, or carts of the range were in its comparison."""
        return bool(self.percent) or bool(self.emailed.carts + self.held_out.carts)

    @property
    def groups(self):
        return [self.emailed, self.held_out]

    @property
    def chart_rates(self):
        """Each group's conversion rate in percent, for the chart (0 for an empty group)."""
        return [round(float(g.conversion_rate or 0) * 100, 1) for g in self.groups]

    @property
    def lift(self):
        """p₁ − p₀ as a Decimal fraction, or None when a group is empty."""
        p1, p0 = self.emailed.conversion_rate, self.held_out.conversion_rate
        if p1 is None or p0 is None:
            return None
        return p1 - p0

    @property
    def lift_interval(self):
        e, h = self.emailed, self.held_out
        return newcombe_interval(e.converted, e.carts, h.converted, h.carts)

    @property
    def mean_order_value(self):
        """The emailed group's mean order value in the shop's currency (minor units)."""
        t = self._shop
        if t is None or not t["not_held_out_converted"]:
            return None
        return (
            Decimal(t.money["not_held_out_revenue"].get(self.reports.settings.currency, 0))
            / (t["not_held_out_converted"])
        )

    def added_revenue(self):
        """(estimate, (low, high)) in minor units of the shop's currency: what the emails
        brought beyond what the emailed group would have bought anyway; (None, None) when
        there is nothing to divide by."""
        t, m = self._shop, self.mean_order_value
        if t is None or m is None or not t["held_out"]:
            return None, None
        n, converted = t["not_held_out"], t["not_held_out_converted"]
        held, held_converted = t["held_out"], t["held_out_converted"]
        revenue = Decimal(t.money["not_held_out_revenue"].get(self.reports.settings.currency, 0))
        estimate = revenue - Decimal(held_converted) / Decimal(held) * n * m
        interval = newcombe_interval(converted, n, held_converted, held)
        low, high = (Decimal(repr(bound)) * n * m for bound in interval)
        return _minor_units(estimate), (_minor_units(low), _minor_units(high))
