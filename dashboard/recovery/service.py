"""Changes to the recovery sequence: queueing steps, pausing, unsubscribing, clicks and
the credit a conversion gives. Every function flushes and writes its audit event; the
caller (a request, or the runner in dashboard.recovery.runner) commits.

Queueing is set-based: carts are claimed with a conditional UPDATE (… WHERE
recovery_attempts < step AND the step is due), and their attempts and outbox rows are
written in bulk. Two processes cannot both claim a cart, and the outbox's unique dedupe
key stops a duplicate at the last step anyway. The outbox rows carry no content: the
emails are written when they go out (dashboard.recovery.emails), and withdrawn if by then
they are no longer wanted.
"""

from sqlalchemy import and_, bindparam, exists, func, insert, not_, select, update

from dashboard.audit.service import record, record_bulk
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.models import WENT_OUT, OutboxMessage
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.recovery.rules import (
    RecoverySettings,
    manual_condition,
    read_dedupe_key,
    recovery_dedupe_key,
)
from dashboard.timeutil import utcnow


def queue_step(order_ids, condition, step, actor, now, sent_before=None, **details):
    """Claim those of `order_ids` that `condition` still holds for, then write their
    attempts, outbox rows and one audit event. Returns how many were queued.

    A cart whose earlier steps had not gone out (the run sends only the latest due step)
    gets those recorded as skipped. The claim is one UPDATE per number of steps sent before
    (`sent_before`: the numbers the caller saw among these carts; every one below `step` if
    not given), so each claimed cart's skipped steps are known without reading it again.
    """
    claimed, attempts = [], []
    for sent in sorted(range(step) if sent_before is None else sent_before):
        rows = db.session.execute(
            update(IncompleteOrder)
            .where(
                IncompleteOrder.id.in_(order_ids),
                IncompleteOrder.recovery_attempts == sent,
                condition,
            )
            .values(recovery_attempts=step, recovery_queued_at=now)
            .returning(IncompleteOrder.id, IncompleteOrder.email)
            .execution_options(synchronize_session=False)
        ).all()
        claimed += rows
        attempts += [
            {"incomplete_order_id": order_id, "step": skipped, "sent_at": now, "skipped_for": step}
            for order_id, _ in rows
            for skipped in range(sent + 1, step)
        ]
    if not claimed:
        return 0
    claimed.sort()
    attempts += [
        {"incomplete_order_id": order_id, "step": step, "sent_at": now, "skipped_for": None}
        for order_id, _ in claimed
    ]
    db.session.execute(insert(RecoveryAttempt), attempts)
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
    skipped = len(attempts) - len(claimed)
    if skipped:
        details["skipped_steps"] = skipped
    ids = [order_id for order_id, _ in claimed]
    record_bulk(actor, "recovery.send", "incomplete_order", ids, step=step, **details)
    return len(claimed)


def queue_next_step_now(actor, condition, now=None, settings=None, send_anyway=False):
    """Staff's "send the next email now" for every cart matching `condition`: each gets
    its next step, ignoring the delays but none of the reasons against it, and not within
    RECOVERY_MANUAL_MIN_GAP_HOURS of the previous email unless `send_anyway` (then not
    within a minute). In the caller's transaction; returns how many were queued."""
    now = now or utcnow()
    settings = settings or RecoverySettings.from_config()
    details = {"manual": True, **({"send_anyway": True} if send_anyway else {})}
    queued = 0
    # Later steps first: a cart moved on here matches no later step, so it gets one email.
    for step in range(settings.max_attempts, 0, -1):
        due = and_(condition, manual_condition(step, settings, now, send_anyway))
        ids = list(db.session.scalars(select(IncompleteOrder.id).where(due)))
        if ids:
            queued += queue_step(ids, due, step, actor, now, (step - 1,), **details)
    return queued


def on_messages_finished(kind, finished, **_):
    """Recovery emails left the outbox's queue: their carts' next steps may be queued, timed
    from when each went out. Connected to `outbox_messages_finished`; one statement for the
    sent ones and one for the rest, whatever the batch's size."""
    if kind != "recovery":
        return
    went_out, other = [], []
    for message, status, at in finished:
        order_id, step = read_dedupe_key(message.dedupe_key)
        row = {"order_id": order_id, "step": step, "at": at}
        (went_out if status in WENT_OUT else other).append(row)
    o = IncompleteOrder
    mine = and_(o.id == bindparam("order_id"), o.recovery_attempts == bindparam("step"))
    for rows, values in (
        (went_out, {"recovery_queued_at": None, "recovery_last_sent_at": bindparam("at")}),
        (other, {"recovery_queued_at": None}),
    ):
        if rows:
            connection = db.session.connection()
            connection.execute(update(o.__table__).where(mine).values(**values), rows)


def catch_up_deliveries(now):
    """Carts still marked as waiting for an email that left the outbox without the cart
    being told (the delivering process died between the two): what the outbox says wins.
    Cheap: only carts marked waiting are looked at (a partial index)."""
    o, m = IncompleteOrder, OutboxMessage
    theirs = and_(m.record_type == "incomplete_order", m.record_id == o.id, m.kind == "recovery")
    still_waiting = exists().where(theirs, m.status.in_(("queued", "sending")))
    last_sent = select(func.max(m.sent_at)).where(theirs, m.status.in_(WENT_OUT)).scalar_subquery()
    return db.session.execute(
        update(o)
        .where(o.recovery_queued_at.is_not(None), o.recovery_queued_at < now, not_(still_waiting))
        .values(
            recovery_queued_at=None,
            recovery_last_sent_at=func.coalesce(last_sent, o.recovery_last_sent_at),
        )
        .execution_options(synchronize_session=False)
    ).rowcount


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


def resubscribe(email, actor):
    """The customer asks for reminders again, from their unsubscribe link (idempotent)."""
    email = email.strip().lower()
    suppression = db.session.get(Suppression, email)
    if suppression is not None:
        db.session.delete(suppression)
        db.session.flush()
        record(actor, "recovery.resubscribe", None, None, email=email)
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

    Connected to the `order_converted` signal. An email still waiting in the outbox,
    failed or withdrawn never reached the customer, so it recovered nothing.
    """
    attempts = db.session.scalars(
        select(RecoveryAttempt).where(
            RecoveryAttempt.incomplete_order_id == incomplete_order_id,
            RecoveryAttempt.skipped_for.is_(None),
        )
    ).all()
    undelivered = set(
        db.session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.record_type == "incomplete_order",
                OutboxMessage.record_id == incomplete_order_id,
                OutboxMessage.kind == "recovery",
                OutboxMessage.status.not_in(WENT_OUT),
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


def on_order_converted(order, incomplete_order_id, **_):
    attribute_conversion(order, incomplete_order_id)
