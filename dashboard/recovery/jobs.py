"""The recovery jobs: plain functions that the scheduler and the CLI both call."""

from dashboard.audit.service import Actor
from dashboard.outbox.service import deliver_due
from dashboard.recovery import cleanup, service

MAX_DELIVERY_ROUNDS = 1000


def recovery_run(hours_after=None, max_attempts=None, dry_run=False, echo=None):
    """Queue due recovery emails. Returns counts."""
    settings = service.Settings.from_config(hours_after, max_attempts)
    result = service.send_due(Actor.system("recovery"), settings=settings, dry_run=dry_run)
    if dry_run:
        for order_id, email, step in result.planned:
            if echo:
                echo(f"would send step {step} to {email} (incomplete order {order_id})")
        return {"would_send": len(result.planned)}
    return {"queued": result.sent, **{f"step_{k}": v for k, v in sorted(result.by_step.items())}}


def delivery_run(limit=500):
    """Deliver what the outbox holds that is due, a batch at a time."""
    totals = {"sent": 0, "retry": 0, "failed": 0, "withdrawn": 0}
    for _ in range(MAX_DELIVERY_ROUNDS):
        counts = deliver_due(limit)
        for name, value in counts.items():
            totals[name] += value
        if sum(counts.values()) < limit:
            break
    return totals


def cleanup_run(days=None, dry_run=False):
    result = cleanup.cleanup(Actor.system("cleanup"), days=days, dry_run=dry_run)
    return {"expired": result.expired, "deleted": result.deleted}
