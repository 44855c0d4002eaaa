"""Reads of the recovery sequence: a cart's ledger, and what a run would send."""

from dataclasses import dataclass

from sqlalchemy import func, literal, select

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.models import WENT_OUT, OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.recovery.rules import (
    HELD_OUT,
    RecoverySettings,
    catch_up_step,
    due_condition,
    recovery_dedupe_key,
    why_not,
)
from dashboard.timeutil import utcnow


@dataclass
class LedgerStep:
    step: int
    # sent | waiting (in the outbox) | failed | withdrawn (queued, then no longer wanted
    # when it was to go out) | skipped (a later step was already due) | scheduled |
    # to_skip (overdue with a later step: the next run skips it) | blocked | held_out (the
    # recovery holdout: no email goes to the cart)
    state: str
    at: object = None  # when sent (or queued, or skipped), or when it is due
    reason: str | None = None
    clicked_at: object = None
    delivery: str | None = None  # the outbox status of a queued step


def _delay(delta):
    minutes = round(delta.total_seconds() / 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day" + ("" if days == 1 else "s")
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("" if hours == 1 else "s")
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def ledger(order, now=None, settings=None):
    """Each step of the sequence for one cart: sent (when, clicked), waiting in the outbox,
    failed, withdrawn or skipped (why), scheduled (when), or not going to be sent, and why."""
    now = now or utcnow()
    settings = settings or RecoverySettings.from_config()
    attempts = {
        a.step: a
        for a in db.session.scalars(
            select(RecoveryAttempt).where(RecoveryAttempt.incomplete_order_id == order.id)
        )
    }
    deliveries = {
        row.dedupe_key: row
        for row in db.session.execute(
            select(
                OutboxMessage.dedupe_key,
                OutboxMessage.status,
                OutboxMessage.last_error,
                OutboxMessage.sent_at,
            ).where(
                OutboxMessage.record_type == "incomplete_order",
                OutboxMessage.record_id == order.id,
                OutboxMessage.kind == "recovery",
            )
        )
    }
    blocked = why_not(order, settings, now)
    blocked_state = "held_out" if blocked == HELD_OUT else "blocked"
    steps = []
    for step in range(1, order.recovery_attempts + 1):
        attempt = attempts.get(step)
        if attempt is not None:
            delivery = deliveries.get(recovery_dedupe_key(order.id, step))
            steps.append(_past_step(order, step, attempt, delivery))
        elif blocked:  # counted as sent with no record of it (set by hand)
            steps.append(LedgerStep(step, blocked_state, reason=blocked))
    following = range(order.recovery_attempts + 1, settings.max_attempts + 1)
    if blocked:
        return steps + [LedgerStep(step, blocked_state, reason=blocked) for step in following]
    if order.recovery_queued_at is not None:
        sent = order.recovery_attempts
        return steps + [
            LedgerStep(
                step,
                "scheduled",
                reason=f"{_delay(settings.spacing(sent, step))} after step {sent} goes out",
            )
            for step in following
        ]
    catch_up = catch_up_step(order, settings, now)
    previous_step, previous_at = order.recovery_attempts, order.recovery_last_sent_at
    for step in following:
        if step < catch_up:
            steps.append(LedgerStep(step, "to_skip", reason=f"step {catch_up} is already due"))
            continue
        due_at = order.last_activity_at + settings.delays[step - 1]
        if previous_step and previous_at is not None:
            due_at = max(due_at, previous_at + settings.spacing(previous_step, step))
        due_at = max(due_at, now)
        steps.append(LedgerStep(step, "scheduled", due_at))
        previous_step, previous_at = step, due_at
    return steps


def _past_step(order, step, attempt, delivery):
    if attempt.skipped_for is not None:
        return LedgerStep(
            step, "skipped", attempt.sent_at, reason=f"step {attempt.skipped_for} was already due"
        )
    status = delivery.status if delivery else None
    if status is None or status in WENT_OUT:  # demo attempts have no outbox row
        sent_at = delivery.sent_at if delivery and delivery.sent_at else attempt.sent_at
        return LedgerStep(step, "sent", sent_at, clicked_at=attempt.clicked_at, delivery=status)
    if status == "withdrawn":
        return LedgerStep(step, "withdrawn", attempt.sent_at, reason=delivery.last_error)
    if status == "failed":
        return LedgerStep(step, "failed", attempt.sent_at, reason=delivery.last_error)
    return LedgerStep(step, "waiting", attempt.sent_at, delivery=status)


def due_now(limit, settings=None, now=None):
    """What the next recovery run would queue: ([(incomplete order id, email, step)] up to
    `limit`, the total). Later steps first, as the run takes them."""
    summary = due_summary(limit, settings, now)
    return [(row.id, row.email, row.step) for row in summary.rows], summary.total


@dataclass
class DueSummary:
    """What a recovery run would send now, for a person to check before it goes out."""

    total: int
    by_step: dict  # step -> count
    oldest_activity: object  # the longest-quiet cart's last activity, or None
    value_by_currency: dict  # currency -> total cart value, minor units
    rows: list  # the first carts: id, email, step, last_activity_at, subtotal, currency


def due_summary(limit, settings=None, now=None):
    now = now or utcnow()
    settings = settings or RecoverySettings.from_config()
    o = IncompleteOrder
    summary = DueSummary(0, {}, None, {}, [])
    for step in range(settings.max_attempts, 0, -1):
        condition = due_condition(step, settings, now)
        for currency, count, value, oldest in db.session.execute(
            select(o.currency, func.count(), func.sum(o.subtotal), func.min(o.last_activity_at))
            .where(condition)
            .group_by(o.currency)
        ):
            summary.total += count
            summary.by_step[step] = summary.by_step.get(step, 0) + count
            summary.value_by_currency[currency] = summary.value_by_currency.get(currency, 0) + value
            if summary.oldest_activity is None or oldest < summary.oldest_activity:
                summary.oldest_activity = oldest
        if len(summary.rows) < limit:
            summary.rows += db.session.execute(
                select(o.id, o.email, o.last_activity_at, o.subtotal, o.currency)
                .add_columns(literal(step).label("step"))
                .where(condition)
                .order_by(o.last_activity_at)
                .limit(limit - len(summary.rows))
            ).all()
    return summary
