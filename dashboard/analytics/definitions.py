"""What the analytics count, defined once as SQL conditions on a cart.

The rollups, the live figures for today, the notes under each report and the lists' filters
that a count links to all use these same conditions, so a figure on /analytics/ and the list
it opens cannot disagree. Every cart that was abandoned is in exactly one outcome:

    abandoned = recovered + late + self-converted + lost + still open
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies
from flask import current_app
from sqlalchemy import and_, case, exists, not_, or_

from dashboard.analytics.days import plus
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.models import WENT_OUT, OutboxMessage
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.recovery.rules import RecoverySettings

c = IncompleteOrder

OUTCOMES = ("recovered", "late", "self_converted", "lost", "still_open")
OUTCOME_LABELS = {
    "recovered": "Recovered",
    "late": "Converted late",
    "self_converted": "Converted without an email",
    "lost": "Lost",
    "still_open": "Still open",
}
# Cart value bands, in major units of the cart's currency: under 25, 25–50, … 250 and more.
VALUE_BANDS = (25, 50, 100, 250)
CUSTOMER_KINDS = ("guest", "registered")


@dataclass(frozen=True)
class AnalyticsSettings:
    """The settings the definitions depend on; shown under each report."""

    first_delay: timedelta  # a cart is abandoned after this long without activity
    attribution: timedelta  # RECOVERY_ATTRIBUTION_DAYS
    min_cart_value: int  # minor units, RECOVERY_MIN_CART_VALUE
    expire_after_days: int
    retention_days: int
    decision_sla_hours: int
    return_window_days: int
    ship_by_days: int
    time_zone: str
    currency: str

    @classmethod
    def from_config(cls):
        config = current_app.config
        return cls(
            first_delay=RecoverySettings.from_config().delays[0],
            attribution=timedelta(days=config.get("RECOVERY_ATTRIBUTION_DAYS", 5)),
            min_cart_value=config["RECOVERY_MIN_CART_VALUE"],
            expire_after_days=config["EXPIRE_AFTER_DAYS"],
            retention_days=config["RETENTION_DAYS"],
            decision_sla_hours=config["RETURN_DECISION_SLA_HOURS"],
            return_window_days=config["RETURN_WINDOW_DAYS"],
            ship_by_days=config["RETURN_SHIP_BY_DAYS"],
            time_zone=config["SHOP_TIMEZONE"],
            currency=config["SHOP_CURRENCY"],
        )

    @property
    def first_delay_text(self):
        minutes = int(self.first_delay.total_seconds() // 60)
        if minutes % 1440 == 0:
            return f"{minutes // 1440} d"
        if minutes % 60 == 0:
            return f"{minutes // 60} h"
        return f"{minutes} min"

    @property
    def attribution_days(self):
        return self.attribution.days

    @property
    def changing_days(self):
        """How many closed days a cart's figures can still change: an open cart is expired
        after EXPIRE_AFTER_DAYS, a conversion is credited for W days."""
        return max(self.attribution_days, self.expire_after_days) + 1

    @property
    def returns_changing_days(self):
        """A request can be submitted up to the return window after delivery, and is
        decided, received and completed after that: figures of older days stay put."""
        return self.return_window_days + self.ship_by_days + 14


def rate(part, whole):
    """part/whole as a Decimal fraction, or None (shown "—") when whole is 0: never INF or
    NaN."""
    if not whole:
        return None
    return Decimal(part) / Decimal(whole)


def abandonment_time(settings):
    """When a cart counts as abandoned: its last activity plus the first recovery delay."""
    return plus(c.last_activity_at, settings.first_delay)


def newly_abandoned(settings, now):
    """Carts abandoned by `now` whose abandonment time is not stored yet: quiet for the first
    delay and not converted (or closed) before that."""
    due = abandonment_time(settings)
    return and_(
        c.abandoned_at.is_(None),
        c.last_activity_at <= now - settings.first_delay,
        or_(c.status == "open", c.status_changed_at >= due),
    )


def abandoned_between(start, end):
    return and_(c.abandoned_at >= start, c.abandoned_at < end)


def _went_out():
    return and_(
        OutboxMessage.record_type == "incomplete_order",
        OutboxMessage.record_id == c.id,
        OutboxMessage.kind == "recovery",
        OutboxMessage.status.in_(WENT_OUT),
    )


def recoverable(settings):
    """Abandoned with an email, not unsubscribed, worth at least RECOVERY_MIN_CART_VALUE."""
    return and_(
        c.email.is_not(None),
        c.subtotal >= settings.min_cart_value,
        not_(exists().where(Suppression.email == c.email)),
    )


def emailed():
    """At least one recovery email went out (outbox status sent)."""
    return exists().where(_went_out())


def clicked():
    """A restore link followed."""
    return exists().where(
        RecoveryAttempt.incomplete_order_id == c.id, RecoveryAttempt.clicked_at.is_not(None)
    )


def _emailed_before_conversion():
    return exists().where(_went_out(), OutboxMessage.sent_at <= c.status_changed_at)


def recovered(settings):
    """Converted within W days of the last recovery email that went out before it."""
    return and_(
        c.status == "converted",
        exists().where(
            _went_out(),
            OutboxMessage.sent_at <= c.status_changed_at,
            OutboxMessage.sent_at >= plus(c.status_changed_at, -settings.attribution),
        ),
    )


def late(settings):
    """Converted after a recovery email, but more than W days after the last one."""
    return and_(c.status == "converted", _emailed_before_conversion(), not_(recovered(settings)))


def self_converted():
    """Converted with no recovery email before it."""
    return and_(c.status == "converted", not_(_emailed_before_conversion()))


def lost():
    """Expired or cancelled without an order."""
    return c.status.in_(("expired", "cancelled"))


def still_open():
    return c.status == "open"


# --- the recovery holdout's comparison (dashboard.recovery.holdout) ------------------------


def in_holdout_test(settings):
    """Abandoned carts that take part in the holdout's comparison: placed in a group when
    their email arrived (the holdout was on), worth at least RECOVERY_MIN_CART_VALUE, and not
    unsubscribed when they were abandoned. Unsubscribing later does not take a cart out:
    only emailed customers can, and dropping them would flatter the emails."""
    return and_(
        c.recovery_holdout.is_not(None),
        c.email.is_not(None),
        c.subtotal >= settings.min_cart_value,
        not_(exists().where(Suppression.email == c.email, Suppression.created_at < c.abandoned_at)),
    )


def held_out():
    return c.recovery_holdout.is_(True)


def not_held_out():
    return c.recovery_holdout.is_(False)


def converted():
    """The cart became an order (at any time after it was abandoned, emailed or not)."""
    return c.status == "converted"


HOLDOUT_GROUP_LABELS = {"held_out": "Held out", "emailed_group": "Emailed group"}


def holdout_group_condition(group, settings):
    """The carts of one group of the holdout's comparison (the list's "holdout" filter)."""
    return and_(in_holdout_test(settings), held_out() if group == "held_out" else not_held_out())


def outcome_condition(outcome, settings):
    return {
        "recovered": lambda: recovered(settings),
        "late": lambda: late(settings),
        "self_converted": self_converted,
        "lost": lost,
        "still_open": still_open,
    }[outcome]()


@lru_cache
def _currencies_by_places():
    by_places = {}
    for code in list_currencies():
        by_places.setdefault(get_currency_precision(code), []).append(code)
    return by_places


def value_band():
    """0 .. len(VALUE_BANDS): which band the cart's value is in, in its own currency."""
    by_places = _currencies_by_places()
    unit = case(
        *(
            (c.currency.in_(codes), 10**places)
            for places, codes in by_places.items()
            if places != 2
        ),
        else_=100,
    )
    return case(
        *((c.subtotal < edge * unit, band) for band, edge in enumerate(VALUE_BANDS)),
        else_=len(VALUE_BANDS),
    )


def value_band_label(band, currency="EUR"):
    if band == 0:
        return f"under {VALUE_BANDS[0]} {currency}"
    if band == len(VALUE_BANDS):
        return f"{VALUE_BANDS[-1]} {currency} and more"
    return f"{VALUE_BANDS[band - 1]}–{VALUE_BANDS[band]} {currency}"


def customer_kind():
    return case((c.customer_id.is_(None), "guest"), else_="registered")
