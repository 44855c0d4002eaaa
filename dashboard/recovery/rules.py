"""The rules of the recovery sequence, defined once: which step is due, and every reason a
cart gets no (further) email.

Each reason is a SQL condition with the words that explain it. The run, the delivery check
(an email queued earlier that is no longer wanted is withdrawn), the ledger on a cart's page
and the bulk confirm step all use these same conditions, so what Reclaim does and what it
says it does cannot drift apart.
"""

from dataclasses import dataclass
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

    # "Send the next step now" waits this long after the previous email, unless the agent
    # says "send anyway".
    manual_min_gap: timedelta = timedelta(hours=12)

    @classmethod
    def from_config(cls, hours_after=None, max_attempts=None):
        """The sequence as configured. `hours_after` moves the first email to that many hours
        of quiet and shifts every later step by the same amount, so the spacing between the
        emails stays as configured (1 h, 24 h, 72 h with 100 becomes 100 h, 123 h, 171 h)."""
        config = current_app.config
        delays = list(config["RECOVERY_DELAYS"])
        steps = max_attempts or config["RECOVERY_MAX_ATTEMPTS"]
        while len(delays) < steps:  # steps beyond the configured delays wait twice as long
            delays.append(delays[-1] * 2)
        if hours_after is not None:
            shift = timedelta(hours=hours_after) - delays[0]
            delays = [delay + shift for delay in delays]
        return cls(
            tuple(delays[:steps]),
            steps,
            config["RECOVERY_MIN_CART_VALUE"],
            timedelta(days=config.get("RECOVERY_STOP_AFTER_DAYS", 7)),
            timedelta(hours=config.get("RECOVERY_MANUAL_MIN_GAP_HOURS", 12)),
        )

    def spacing(self, after_step, step):
        """How long `step` waits after the email of `after_step` went out: the difference of
        their delays (24 h − 1 h by default), and never less than a minute."""
        return max(self.delays[step - 1] - self.delays[after_step - 1], MIN_STEP_GAP)


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


HELD_OUT = "held out to measure recovery"


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
    # The recovery holdout (dashboard.recovery.holdout): no email of any kind, not even a
    # person's, or the comparison would measure nothing.
    Never(
        "held_out",
        HELD_OUT,
        lambda settings, now: _cart.recovery_holdout.is_(True),
        lambda order, settings: HELD_OUT,
    ),
    Never(
        "all_sent",
        "every step sent",
        lambda settings, now: _cart.recovery_attempts >= settings.max_attempts,
        lambda order, settings: "all steps sent",
    ),
)
# Not a reason against the sequence, only against queueing the next step yet: the steps
# arrive in order, each timed from when the previous one went out.
WAITING = Never(
    "waiting",
    "the previous email has not gone out yet",
    lambda settings, now: _cart.recovery_queued_at.is_not(None),
    lambda order, settings: (
        f"step {order.recovery_attempts} is waiting in the outbox "
        f"(queued {_when(order.recovery_queued_at)}); the next step is timed from when it goes out"
    ),
)
# Only for "send the next step now": the sequence goes on, but not twice in a minute...
JUST_SENT = Never(
    "just_sent",
    "an email went out less than a minute ago",
    lambda settings, now: _sent_after(now - MIN_STEP_GAP),
    lambda order, settings: f"step {order.recovery_attempts} went out less than a minute ago",
)
# ...and not within the manual gap (RECOVERY_MANUAL_MIN_GAP_HOURS) unless the agent ticks
# "send anyway".
WITHIN_GAP = Never(
    "within_gap",
    "emailed in the last {gap} (send anyway to include them)",
    lambda settings, now: _sent_after(now - settings.manual_min_gap),
    lambda order, settings: (
        f"step {order.recovery_attempts} went out {_when(order.recovery_last_sent_at)}, "
        f"less than {_hours(settings.manual_min_gap)} ago"
    ),
)


def _sent_after(moment):
    # Never NULL (a cart never emailed): NOT of it must hold for such a cart.
    last_sent = _cart.recovery_last_sent_at
    return and_(last_sent.is_not(None), last_sent > moment)


def _when(value):
    return shop_time(value, "%d %b %Y %H:%M")


def _hours(delta):
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def still_wanted(settings=None, now=None):
    """Open, not paused, not unsubscribed, and the customer has not bought since the cart's
    last activity: checked when a step is due, and again when its email goes out."""
    return and_(*(not_(n.condition(settings, now)) for n in NEVERS if n.at_delivery))


def _quiet_since(step, settings, now):
    """The cart was quiet for the step's delay, and the step's spacing has passed since the
    previous email went out (for whichever step that was)."""
    o = IncompleteOrder
    last_sent = o.recovery_last_sent_at
    spaced = [o.recovery_attempts == 0, last_sent.is_(None)] + [
        and_(o.recovery_attempts == sent, last_sent <= now - settings.spacing(sent, step))
        for sent in range(1, step)
    ]
    return and_(o.last_activity_at <= now - settings.delays[step - 1], or_(*spaced))


def due_condition(step, settings, now):
    """The carts whose email for `step` goes out in a recovery run now: no reason against it
    (NEVERS), no email of theirs waiting in the outbox, quiet long enough and spaced after
    the previous email, and `step` the latest step so due.

    A cart whose earlier steps are overdue too (the scheduler was down, the cart arrived
    late) gets only this one (it is due for no later step); the run records the earlier
    ones as skipped.
    """
    o = IncompleteOrder
    return and_(
        o.recovery_attempts < step,
        _quiet_since(step, settings, now),
        *(
            not_(_quiet_since(later, settings, now))
            for later in range(step + 1, settings.max_attempts + 1)
        ),
        *(not_(n.condition(settings, now)) for n in (*NEVERS, WAITING)),
    )


def manual_condition(step, settings, now, send_anyway=False):
    """The carts whose next step is `step` and may be sent by a person now: no reason
    against it, nothing waiting, and past the manual gap (or one minute, "send anyway")."""
    o = IncompleteOrder
    return and_(
        o.recovery_attempts == step - 1,
        *(not_(n.condition(settings, now)) for n in manual_reasons(send_anyway)),
    )


def manual_reasons(send_anyway=False):
    """Every reason a person's "send the next step now" sends nothing, in the order they
    are told."""
    return (*NEVERS, WAITING, JUST_SENT if send_anyway else WITHIN_GAP)


def next_step_exclusions(settings, now, send_anyway=False):
    """[(summary, condition)] in order: why an open cart gets no "next step now". A cart is
    counted under the first reason that holds for it."""
    gap = _hours(settings.manual_min_gap)
    return [
        (n.summary.format(gap=gap), n.condition(settings, now))
        for n in manual_reasons(send_anyway)[1:]
    ]


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


def why_withdrawn(order, settings, now=None):
    """Why an email queued for this cart must not go out now (a reason checked at delivery),
    or None."""
    nevers = tuple(n for n in NEVERS if n.at_delivery)
    never = _first_never(order, nevers, settings, now or utcnow())
    return never.explain(order, settings) if never else None


def why_not_now(order, settings, now=None, send_anyway=False):
    """Why "send the next step now" sends nothing to this cart, or None."""
    never = _first_never(order, manual_reasons(send_anyway), settings, now or utcnow())
    return never.explain(order, settings) if never else None


def within_gap(order, settings, now=None):
    """The last email went out less than the manual gap ago: a person must say "send
    anyway" to send the next one now."""
    now = now or utcnow()
    last = order.recovery_last_sent_at
    return last is not None and last > now - settings.manual_min_gap


def catch_up_step(order, settings, now):
    """The step a recovery run sends this cart when it next is due: the latest step whose
    delay and spacing have passed (the earlier overdue ones are skipped), else the next."""
    sent, last_sent = order.recovery_attempts, order.recovery_last_sent_at
    latest = sent + 1
    for step in range(sent + 1, settings.max_attempts + 1):
        quiet = order.last_activity_at + settings.delays[step - 1] <= now
        spaced = not sent or last_sent is None or last_sent + settings.spacing(sent, step) <= now
        if quiet and spaced:
            latest = step
    return latest


def next_due_at(order, settings, now=None):
    """When the cart's next recovery email is due, from the row alone (no query): None when
    the cart is closed, paused, held out, has no email, has had every step or waits for an
    email in the outbox. Lists call it per row; the reasons that need a query (unsubscribed, bought
    since) are the ledger's to explain."""
    if (
        order.status != "open"
        or not order.email
        or order.recovery_paused_at is not None
        or order.recovery_holdout
        or order.recovery_queued_at is not None
        or order.recovery_attempts >= settings.max_attempts
    ):
        return None
    now = now or utcnow()
    step = catch_up_step(order, settings, now)
    due = order.last_activity_at + settings.delays[step - 1]
    if order.recovery_attempts and order.recovery_last_sent_at is not None:
        due = max(
            due,
            order.recovery_last_sent_at + settings.spacing(order.recovery_attempts, step),
        )
    return due
