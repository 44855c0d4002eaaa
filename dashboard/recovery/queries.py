"""Reads of the recovery sequence: a cart's ledger, and what a run would send."""

from dataclasses import dataclass

from sqlalchemy import func, literal, select

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.recovery.rules import (
    RecoverySettings,
    due_condition,
    recovery_dedupe_key,
    why_not,
)
from dashboard.timeutil import utcnow


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


def ledger(order, now=None, settings=None):
    """Each step of the sequence for one cart: sent (when, delivered, clicked), scheduled
    (when), or not going to be sent, and why."""
    now = now or utcnow()
    settings = settings or RecoverySettings.from_config()
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
    blocked = why_not(order, settings, now)
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
