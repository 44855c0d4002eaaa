"""The recovery run: a batch job that queues every step that is due. It owns its
transactions (a short one per batch of carts, so on SQLite the storefront and staff never
wait long) and is called by the scheduler and the CLI, never from a view: staff's "send
now" is dashboard.recovery.service.queue_next_step_now, in the request's transaction.
"""

from dataclasses import dataclass, field

from sqlalchemy import and_, select

from dashboard.database import write_intent
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.recovery.rules import RecoverySettings, due_condition
from dashboard.recovery.service import catch_up_deliveries, queue_step
from dashboard.timeutil import utcnow
from dashboard.transaction import run_in_transaction

BATCH = 1000


@dataclass
class RunResult:
    sent: int = 0
    by_step: dict = field(default_factory=dict)
    planned: list = field(default_factory=list)  # (incomplete order id, email, step) in a dry run


def run_recovery(actor, now=None, dry_run=False, settings=None, where=None):
    """Queue the recovery emails that are due in the outbox (written and delivered apart).

    A `where` condition limits the run to some carts. Returns a RunResult; a dry run
    writes nothing and lists what it would send.
    """
    now = now or utcnow()
    settings = settings or RecoverySettings.from_config()
    # A dry run only reads: on SQLite it must not hold the write lock while it does.
    intent = write_intent.set(write_intent.get() and not dry_run)
    try:
        return _run(actor, now, dry_run, settings, where)
    finally:
        write_intent.reset(intent)


def _run(actor, now, dry_run, settings, where):
    result = RunResult()
    if not dry_run:
        run_in_transaction(catch_up_deliveries, now)
    # Later steps first: a cart moved on in this run matches no later step, so it gets at
    # most one email per run.
    for step in range(settings.max_attempts, 0, -1):
        condition = due_condition(step, settings, now)
        if where is not None:
            condition = and_(condition, where)
        # The due carts of a step in one read (an index range scan; paging through them a
        # batch at a time made SQLite sort every due cart again per batch), then claimed a
        # batch at a time, each claim checking the condition again.
        o = IncompleteOrder
        due = sorted(
            db.session.execute(select(o.id, o.email, o.recovery_attempts).where(condition)).all()
        )
        db.session.rollback()  # end the read
        if dry_run:
            result.planned += [(order_id, email, step) for order_id, email, _ in due]
            continue
        for start in range(0, len(due), BATCH):
            batch = due[start : start + BATCH]
            ids = [order_id for order_id, _, _ in batch]
            sent_before = {sent for _, _, sent in batch}
            sent = run_in_transaction(queue_step, ids, condition, step, actor, now, sent_before)
            result.sent += sent
            result.by_step[step] = result.by_step.get(step, 0) + sent
    return result
