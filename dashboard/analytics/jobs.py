"""What the analytics domain plugs into the app: its hourly job, which also runs a quarter of
an hour after the daily clean-up, so the days it touched are recounted before anyone looks."""

from zoneinfo import ZoneInfo

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.analytics.rollup import days_to_compute, update_analytics
from dashboard.jobs.registry import Job, register_job
from dashboard.timeutil import utcnow


def analytics_run(since=None, dry_run=False):
    """Refresh the rollups. Returns counts."""
    return update_analytics(since=since, dry_run=dry_run).counts()


def _preview():
    settings = AnalyticsSettings.from_config()
    days, _ = days_to_compute(settings, utcnow())
    return {"analytics": {"days": days, "settings": settings}}


def _trigger(config):
    return OrTrigger(
        [
            IntervalTrigger(hours=1),
            CronTrigger(
                hour=config["CLEANUP_HOUR"], minute=15, timezone=ZoneInfo(config["SHOP_TIMEZONE"])
            ),
        ]
    )


def register(app):
    register_job(
        app,
        Job(
            "analytics",
            "Analytics rollups",
            analytics_run,
            trigger=_trigger,
            schedule=lambda config: (
                f"hourly, and at {config['CLEANUP_HOUR']:02d}:15 shop time after the clean-up"
            ),
            preview=_preview,
            preview_template="analytics/_job_preview.html",
        ),
    )
