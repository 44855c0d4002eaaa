"""What the recovery domain plugs into the app: its scheduled job, the renderer that
writes its emails when they go out, the credit a conversion gives, and the panel on a
cart's page."""

from apscheduler.triggers.interval import IntervalTrigger

from dashboard.audit.service import Actor
from dashboard.incomplete_orders.panels import register_panel
from dashboard.jobs.registry import Job, register_job
from dashboard.outbox.service import register_renderer
from dashboard.recovery import emails, queries, service
from dashboard.recovery.rules import RecoverySettings
from dashboard.recovery.runner import run_recovery
from dashboard.signals import order_converted, outbox_messages_finished


def recovery_run(hours_after=None, max_attempts=None, dry_run=False, echo=None):
    """Queue due recovery emails. Returns counts."""
    settings = RecoverySettings.from_config(hours_after, max_attempts)
    result = run_recovery(Actor.system("recovery"), settings=settings, dry_run=dry_run)
    if dry_run:
        for order_id, email, step in result.planned:
            if echo:
                echo(f"would send step {step} to {email} (incomplete order {order_id})")
        return {"would_send": len(result.planned)}
    return {"queued": result.sent, **{f"step_{k}": v for k, v in sorted(result.by_step.items())}}


PREVIEW_ROWS = 50


def _every(config):
    return config["RECOVERY_RUN_SECONDS"] or 60 * config["RECOVERY_RUN_MINUTES"]


def register(app):
    register_job(
        app,
        Job(
            "recovery",
            "Recovery emails",
            recovery_run,
            trigger=lambda config: IntervalTrigger(seconds=_every(config)),
            schedule=lambda config: f"every {_every(config):,} s",
            preview=lambda: {"due": queries.due_summary(PREVIEW_ROWS)},
            preview_template="jobs/_preview_recovery.html",
        ),
    )
    register_renderer(app, "recovery", emails.render_batch)
    order_converted.connect(service.on_order_converted)
    outbox_messages_finished.connect(service.on_messages_finished)
    register_panel(
        app, "recovery/_ledger_panel.html", lambda order: {"ledger": queries.ledger(order)}
    )
