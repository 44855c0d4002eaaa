"""What the incomplete-orders domain plugs into the app: its daily clean-up."""

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from dashboard.audit.service import Actor
from dashboard.incomplete_orders.cleanup import cleanup, preview
from dashboard.jobs.registry import Job, register_job


def cleanup_run(days=None, dry_run=False):
    result = cleanup(Actor.system("cleanup"), days=days, dry_run=dry_run)
    return {"expired": result.expired, "deleted": result.deleted}


def register(app):
    register_job(
        app,
        Job(
            "cleanup",
            "Clean-up",
            cleanup_run,
            trigger=lambda config: CronTrigger(
                hour=config["CLEANUP_HOUR"], minute=0, timezone=ZoneInfo(config["SHOP_TIMEZONE"])
            ),
            schedule=lambda config: f"daily at {config['CLEANUP_HOUR']:02d}:00 shop time",
            preview=lambda: {"cleanup": preview()},
            preview_template="jobs/_preview_cleanup.html",
        ),
    )
