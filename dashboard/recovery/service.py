"""The recovery sequence: which carts are due which email, sending it, and why not.

Set-based: a run selects due carts a batch at a time, claims them with one conditional
UPDATE (… WHERE recovery_attempts = step - 1), and writes their attempts and outbox rows
in bulk, so the number of statements grows with batches, not with carts. Two processes
running at once cannot both claim a cart, and the outbox's unique dedupe key stops a
duplicate at the last step anyway. The outbox rows carry no content: the emails are
written when they go out (dashboard.recovery.emails), and withdrawn if by then they are
no longer wanted.
"""

from dataclasses import dataclass, field, replace
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, exists, insert, or_, select, update

from dashboard.audit.service import record, record_bulk
from dashboard.database import write_intent
from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.timeutil import utcnow

BATCH = 1000
MIN_STEP_GAP = timedelta(minutes=1)


@dataclass(frozen=True)
class Settings:
    delays: tuple  # timedelta per step, after the cart's last activity
    max_attempts: int
    min_cart_value: int

    @classmethod
    def from_config(cls, hours_after=None, max_attempts=None):
        config = current_app.config
        hours = list(config["RECOVERY_DELAYS_HOURS"])
        if hours_after is not None:
            hours[0] = hours_after
        steps = max_attempts or config["RECOVERY_MAX_ATTEMPTS"]
        while len(hours) < steps:  # later steps keep the last spacing
            hours.append(hours[-1] * 2)
        return cls(
            tuple(timedelta(hours=h) for h in hours[:steps]),
            steps,
            config["RECOVERY_MIN_CART_VALUE"],
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


def _bought_after_last_activity():
    o = IncompleteOrder
    same_customer = or_(
        Order.email == o.email,
        and_(o.customer_id.is_not(None), Order.customer_id == o.customer_id),
    )
    return exists().where(same_customer, Order.placed_at > o.last_activity_at)


def still_wanted():
    """Open, not paused, not unsubscribed, and the customer has not bought since the cart's
    last activity: checked when a step is due, and again when its email goes out."""
    o = IncompleteOrder
    return and_(
        o.status == "open",
        o.recovery_paused_at.is_(None),
        ~exists().where(Suppression.email == o.email),
        ~_bought_after_last_activity(),
    )


def due_condition(step, settings, now):
    """Still wanted (above), has an email, worth it, steps before this one sent, and quiet
    long enough.

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
        o.email.is_not(None),
        o.subtotal >= settings.min_cart_value,
        o.recovery_attempts == step - 1,
        o.last_activity_at <= now - settings.delays[step - 1],
        still_wanted(),
    )


@dataclass
class RunResult:
    sent: int = 0
    by_step: dict = field(default_factory=dict)
    planned: list = field(default_factory=list)  # (incomplete order id, email, step) in a dry run


def send_due(actor, now=None, dry_run=False, settings=None, only_ids=None, where=None):
    """Queue the recovery emails that are due in the outbox (written and delivered apart).

    `only_ids` or a `where` condition limit the run to some carts. Returns a RunResult;
    a dry run writes nothing and lists what it would send.

    Like a job, it commits per batch (short write transactions, so on SQLite staff and the
    storefront never wait long): call it with no changes of your own pending.
    """
    now = now or utcnow()
    settings = settings or Settings.from_config()
    # A dry run only reads: on SQLite it must not hold the write lock while it does.
    intent = write_intent.set(write_intent.get() and not dry_run)
    try:
        return _send_due(actor, now, dry_run, settings, only_ids, where)
    finally:
        write_intent.reset(intent)


def _send_due(actor, now, dry_run, settings, only_ids, where):
    result = RunResult()
    # Later steps first: a cart moved on in this run matches no later step, so it gets at
    # most one email per run, even with no waiting ("send the next step now").
    for step in range(settings.max_attempts, 0, -1):
        condition = due_condition(step, settings, now)
        if only_ids is not None:
            condition = and_(condition, IncompleteOrder.id.in_(only_ids))
        if where is not None:
            condition = and_(condition, where)
        after_id = 0
        while True:
            batch = db.session.execute(
                select(IncompleteOrder.id, IncompleteOrder.email)
                .where(condition, IncompleteOrder.id > after_id)
                .order_by(IncompleteOrder.id)
                .limit(BATCH)
            ).all()
            if not batch:
                db.session.rollback()  # end the read
                break
            after_id = batch[-1].id
            if dry_run:
                result.planned += [(order_id, email, step) for order_id, email in batch]
                continue
            sent = _send_step([row.id for row in batch], condition, step, actor, now)
            db.session.commit()
            result.sent += sent
            result.by_step[step] = result.by_step.get(step, 0) + sent
    return result


def _send_step(order_ids, condition, step, actor, now):
    """Claim the carts still due (one UPDATE), then write their attempts and outbox rows."""
    claimed = db.session.execute(
        update(IncompleteOrder)
        .where(IncompleteOrder.id.in_(order_ids), condition)
        .values(recovery_attempts=step, recovery_last_sent_at=now)
        .returning(IncompleteOrder.id, IncompleteOrder.email)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        return 0
    claimed.sort()
    db.session.execute(
        insert(RecoveryAttempt),
        [
            {"incomplete_order_id": order_id, "step": step, "sent_at": now}
            for order_id, _ in claimed
        ],
    )
    insert_ignoring_duplicates(
        [
            outbox_row(
                "recovery",
                recovery_dedupe_key(order_id, step),
                email,
                record=("incomplete_order", order_id),
                now=now,
            )
            for order_id, email in claimed
        ]
    )
    record_bulk(actor, "recovery.send", "incomplete_order", [i for i, _ in claimed], step=step)
    return len(claimed)


@dataclass
class LedgerStep:
    step: int
    # sent | withdrawn (queued, then no longer wanted when it was to go out) | scheduled
    # | blocked
    state: str
    at: object = None  # when sent, or when it is due
    reason: str | None = None
    clicked_at: object = None
    delivery: str | None = None  # the outbox status of a sent step


def ledger(order, now=None):
    """Each step of the sequence for one cart: sent (when, delivered, clicked), scheduled
    (when), or not going to be sent, and why."""
    now = now or utcnow()
    settings = Settings.from_config()
    attempts = {
        a.step: a
        for a in db.session.scalars(
            select(RecoveryAttempt).where(RecoveryAttempt.incomplete_order_id == order.id)
        )
    }
    deliveries = {
        key: (status, note)
        for key, status, note in db.session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.record_type == "incomplete_order",
                OutboxMessage.record_id == order.id,
                OutboxMessage.kind == "recovery",
            )
        )
    }
    blocked = why_not(order, settings)
    steps = []
    previous = order.recovery_last_sent_at  # when the previous step went out, or is due
    for step in range(1, settings.max_attempts + 1):
        attempt = attempts.get(step)
        if attempt is not None:
            delivery, note = deliveries.get(recovery_dedupe_key(order.id, step), (None, None))
            steps.append(
                LedgerStep(
                    step,
                    "withdrawn" if delivery == "withdrawn" else "sent",
                    attempt.sent_at,
                    reason=note if delivery == "withdrawn" else None,
                    clicked_at=attempt.clicked_at,
                    delivery=delivery,
                )
            )
        elif blocked:
            steps.append(LedgerStep(step, "blocked", reason=blocked))
        else:
            # As due_condition: quiet long enough, and spaced after the previous email.
            due_at = order.last_activity_at + settings.delays[step - 1]
            if previous is not None:
                due_at = max(due_at, previous + settings.spacing(step))
            if step == order.recovery_attempts + 1:
                due_at = max(due_at, now)
            steps.append(LedgerStep(step, "scheduled", due_at))
            previous = due_at
    return steps


def why_not_now(order, settings, now=None):
    """Why "send the next step now" sends nothing: why_not, or a step sent a moment ago."""
    now = now or utcnow()
    reason = why_not(order, settings)
    last_sent = order.recovery_last_sent_at
    if reason is None and last_sent is not None and now - last_sent < MIN_STEP_GAP:
        reason = f"step {order.recovery_attempts} went out less than a minute ago"
    return reason


def why_not(order, settings):
    """Why no further recovery email goes to this cart, or None if the sequence goes on."""
    if order.status == "converted":
        converted = order.converted_order
        return f"converted into order {converted.number}" if converted else "converted"
    if order.status in ("expired", "cancelled"):
        return f"{order.status} on {_day(order.status_changed_at)}"
    if not order.email:
        return "no email address"
    if order.subtotal < settings.min_cart_value:
        return "cart value below the minimum worth an email"
    if order.recovery_paused_at is not None:
        return f"paused by {order.recovery_paused_by} on {_day(order.recovery_paused_at)}"
    suppression = db.session.get(Suppression, order.email)
    if suppression is not None:
        return f"unsubscribed on {_day(suppression.created_at)}"
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
    if bought is not None:
        return f"bought order {bought.number} on {_day(bought.placed_at)}"
    if order.recovery_attempts >= settings.max_attempts:
        return "all steps sent"
    return None


def _day(value):
    return shop_time(value, "%d %b %Y")


def pause(order, actor):
    if order.recovery_paused_at is not None:
        return order
    order.recovery_paused_at, order.recovery_paused_by = utcnow(), actor.label
    db.session.flush()
    record(actor, "recovery.pause", "incomplete_order", order.id)
    return order


def resume(order, actor):
    if order.recovery_paused_at is None:
        return order
    order.recovery_paused_at = order.recovery_paused_by = None
    db.session.flush()
    record(actor, "recovery.resume", "incomplete_order", order.id)
    return order


def unsubscribe(email, actor):
    """Suppress an address for all future recovery emails (idempotent)."""
    email = email.strip().lower()
    if db.session.get(Suppression, email) is None:
        db.session.add(Suppression(email=email))
        db.session.flush()
        record(actor, "recovery.unsubscribe", None, None, email=email)
    return email


def record_click(incomplete_order_id, step):
    """Note the first click of a restore link; returns the cart, or None if it is gone."""
    order = db.session.get(IncompleteOrder, incomplete_order_id)
    if order is None:
        return None
    db.session.execute(
        update(RecoveryAttempt)
        .where(
            RecoveryAttempt.incomplete_order_id == incomplete_order_id,
            RecoveryAttempt.step == step,
            RecoveryAttempt.clicked_at.is_(None),
        )
        .values(clicked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return order


def attribute_conversion(order, incomplete_order_id):
    """Mark an order recovered if its cart had been sent recovery emails.

    An email still waiting in the outbox, failed or withdrawn never reached the customer,
    so it recovered nothing.
    """
    attempts = db.session.scalars(
        select(RecoveryAttempt).where(RecoveryAttempt.incomplete_order_id == incomplete_order_id)
    ).all()
    undelivered = set(
        db.session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.record_type == "incomplete_order",
                OutboxMessage.record_id == incomplete_order_id,
                OutboxMessage.kind == "recovery",
                OutboxMessage.status != "sent",
            )
        )
    )
    attempts = [
        a for a in attempts if recovery_dedupe_key(incomplete_order_id, a.step) not in undelivered
    ]
    if not attempts:
        return
    now = utcnow()
    for attempt in attempts:
        attempt.converted_at = now
    order.recovered_step = max(a.step for a in attempts)
    order.recovery_clicked = any(a.clicked_at for a in attempts)
