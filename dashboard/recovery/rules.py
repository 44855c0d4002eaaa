"""The rules of the recovery sequence, defined once: which step is due, and every reason a
cart gets no (further) email.

Each reason is a SQL condition with the words that explain it. The run, the delivery check
(an email queued earlier that is no longer wanted is withdrawn), the ledger on a cart's page
and the bulk confirm step all use these same conditions, so what Reclaim does and what it
says it does cannot drift apart.
"""

from dataclasses import dataclass, replace
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, case, exists, not_, or_, select

from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.recovery.models import Suppression
from dashboard.timeutil import utcnow

# A double-clicked "send the next step now" sends one email, not two.
MIN_STEP_GAP = timedelta(minutes=1)


@dataclass(frozen=True)
class RecoverySettings:
    delays: tuple  # timedelta per step, after the cart's last activity
    max_attempts: int
    min_cart_value: int  # minor units
    # No email to a cart last active longer ago than this: a reminder about a cart from
    # June, sent in December, embarrasses the shop.
    stop_after: timedelta = timedelta(days=7)

    @classmethod
    def from_config(cls, hours_after=None, max_attempts=None):
        """The sequence as configured. `hours_after` moves the first email to that many hours
        of quiet and shifts every later step by the same amount, so the spacing between the
        emails stays as configured (1 h, 24 h, 72 h with 100 becomes 100 h, 123 h, 171 h)."""
        config = current_app.config
        hours = [float(h) for h in config["RECOVERY_DELAYS_HOURS"]]
        steps = max_attempts or config["RECOVERY_MAX_ATTEMPTS"]
        while len(hours) < steps:  # steps beyond the configured delays wait twice as long
            hours.append(hours[-1] * 2)
        if hours_after is not None:
            shift = hours_after - hours[0]
            hours = [h + shift for h in hours]
        return cls(
            tuple(timedelta(hours=h) for h in hours[:steps]),
            steps,
            config["RECOVERY_MIN_CART_VALUE"],
            timedelta(days=config.get("RECOVERY_STOP_AFTER_DAYS", 7)),
        )

    def immediately(self):
        """The same sequence with no waiting: staff sending the next step now."""
        return replace(self, delays=tuple(timedelta(0) for _ in self.delays))

    def spacing(self, step):
        """How long a step waits after the previous email (none for the first step).

        Never less than a minute: a double-clicked "send the next step now" sends one.
        """
        if step == 1:
            return timedelta(0)
        return max(self.delays[step - 1] - self.delays[step - 2], MIN_STEP_GAP)


def recovery_dedupe_key(incomplete_order_id, step):
    return f"recovery:{incomplete_order_id}:{step}"


def read_dedupe_key(key):
    """(incomplete order id, step) from a recovery_dedupe_key."""
    _, order_id, step = key.split(":")
    return int(order_id), int(step)


def _day(value):
    return shop_time(value, "%d %b %Y")


def _bought_since_activity():
    o = IncompleteOrder
    return exists().where(_same_customer(), Order.placed_at > o.last_activity_at)


def _same_customer():
    o = IncompleteOrder
    return or_(
        Order.email == o.email,
        and_(o.customer_id.is_not(None), Order.customer_id == o.customer_id),
    )


def _explain_closed(order):
    if order.status == "converted":
        converted = order.converted_order
        return f"converted into order {converted.number}" if converted else "converted"
    return f"{order.status} on {_day(order.status_changed_at)}"


def _explain_unsubscribed(order):
    suppression = db.session.get(Suppression, order.email)
    return f"unsubscribed on {_day(suppression.created_at)}" if suppression else "unsubscribed"


def _explain_bought(order):
    bought = db.session.scalar(
        select(Order)
        .where(
            or_(
                Order.email == order.email,
                and_(Order.customer_id.is_not(None), Order.customer_id == order.customer_id),
            ),
            Order.placed_at > order.last_activity_at,
        )
        .order_by(Order.placed_at)
        .limit(1)
    )
    return f"bought order {bought.number} on {_day(bought.placed_at)}" if bought else "bought"


@dataclass(frozen=True)
class Never:
    """One reason a cart gets no recovery email.

    `condition(settings, now)` is true for the carts it stops; `summary` counts them in
    bulk ("12 paused"); `explain(order, settings)` says it for one cart. `at_delivery`:
    also checked when an email queued earlier is about to go out (it is withdrawn).
    """

    name: str
    summary: str
    condition: object
    explain: object
    at_delivery: bool = False


_cart = IncompleteOrder
NEVERS = (
    Never(
        "closed",
        "not open (converted, expired or cancelled)",
        lambda settings, now: _cart.status != "open",
        lambda order, settings: _explain_closed(order),
        at_delivery=True,
    ),
    Never(
        "no_email",
        "no email address",
        lambda settings, now: _cart.email.is_(None),
        lambda order, settings: "no email address",
    ),
    Never(
        "below_minimum",
        "cart value below the minimum worth an email",
        lambda settings, now: _cart.subtotal < settings.min_cart_value,
        lambda order, settings: "cart value below the minimum worth an email",
    ),
    Never(
        "too_old",
        "last active too long ago (RECOVERY_STOP_AFTER_DAYS)",
        lambda settings, now: _cart.last_activity_at < now - settings.stop_after,
        lambda order, settings: (
            f"too old: last active {_day(order.last_activity_at)}, "
            f"more than {settings.stop_after.days} days ago"
        ),
    ),
    Never(
        "paused",
        "recovery emails paused",
        lambda settings, now: _cart.recovery_paused_at.is_not(None),
        lambda order, settings: (
            f"paused by {order.recovery_paused_by} on {_day(order.recovery_paused_at)}"
        ),
        at_delivery=True,
    ),
    Never(
        "unsubscribed",
        "unsubscribed",
        lambda settings, now: exists().where(Suppression.email == _cart.email),
        lambda order, settings: _explain_unsubscribed(order),
        at_delivery=True,
    ),
    Never(
        "bought",
        "bought since the cart's last activity",
        lambda settings, now: _bought_since_activity(),
        lambda order, settings: _explain_bought(order),
        at_delivery=True,
    ),
    Never(
        "all_sent",
        "every step sent",
        lambda settings, now: _cart.recovery_attempts >= settings.max_attempts,
        lambda order, settings: "all steps sent",
    ),
)
# Only for "send the next step now": the sequence goes on, but not twice in a minute.
JUST_SENT = Never(
    "just_sent",
    "an email went out less than a minute ago",
    lambda settings, now: _cart.recovery_last_sent_at > now - MIN_STEP_GAP,
    lambda order, settings: f"step {order.recovery_attempts} went out less than a minute ago",
)


def still_wanted(settings=None, now=None):
    """Open, not paused, not unsubscribed, and the customer has not bought since the cart's
    last activity: checked when a step is due, and again when its email goes out."""
    return and_(*(not_(n.condition(settings, now)) for n in NEVERS if n.at_delivery))


def due_condition(step, settings, now):
    """No reason against it (NEVERS), the steps before this one sent, and quiet long enough.

    A later step also waits its spacing after the previous email (24 h − 1 h by default),
    so a cart found long after it went quiet gets its steps spaced, not all at once.
    """
    o = IncompleteOrder
    spacing = []
    if step > 1:
        last_sent = o.recovery_last_sent_at
        spacing = [or_(last_sent.is_(None), last_sent <= now - settings.spacing(step))]
    return and_(
        *spacing,
        o.recovery_attempts == step - 1,
        o.last_activity_at <= now - settings.delays[step - 1],
        *(not_(n.condition(settings, now)) for n in NEVERS),
    )


def next_step_exclusions(settings, now):
    """[(summary, condition)] in order: why an open cart gets no "next step now". A cart is
    counted under the first reason that holds for it."""
    return [(n.summary, n.condition(settings, now)) for n in (*NEVERS[1:], JUST_SENT)]


def _first_never(order, nevers, settings, now):
    first = case(
        *((never.condition(settings, now), index) for index, never in enumerate(nevers)),
        else_=None,
    )
    index = db.session.scalar(select(first).where(IncompleteOrder.id == order.id))
    return None if index is None else nevers[index]


def why_not(order, settings, now=None):
    """Why no further recovery email goes to this cart, or None if the sequence goes on."""
    never = _first_never(order, NEVERS, settings, now or utcnow())
    return never.explain(order, settings) if never else None


def why_not_now(order, settings, now=None):
    """Why "send the next step now" sends nothing: why_not, or a step sent a moment ago."""
    never = _first_never(order, (*NEVERS, JUST_SENT), settings, now or utcnow())
    return never.explain(order, settings) if never else None


def next_due_at(order, settings):
    """When the cart's next recovery email is due, from the row alone (no query): None when
    the cart is closed, paused, has no email or has had every step. Lists call it per row;
    the reasons that need a query (unsubscribed, bought since) are the ledger's to explain."""
    if (
        order.status != "open"
        or not order.email
        or order.recovery_paused_at is not None
        or order.recovery_attempts >= settings.max_attempts
    ):
        return None
    step = order.recovery_attempts + 1
    due = order.last_activity_at + settings.delays[step - 1]
    if step > 1 and order.recovery_last_sent_at is not None:
        due = max(due, order.recovery_last_sent_at + settings.spacing(step))
    return due
