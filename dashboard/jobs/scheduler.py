"""APScheduler inside the web process, with a database lease so that only one process of
many runs the jobs at a time (and another takes over if it dies).

Every process runs a scheduler; at each tick a job first checks that this process holds
the lease, and a renewal job keeps it. The job bodies claim their rows atomically anyway.
"""

import atexit
import logging
import os
from zoneinfo import ZoneInfo

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader

from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.jobs.registry import registered_jobs
from dashboard.jobs.runner import run_job

log = logging.getLogger(__name__)


def should_start(app):
    """In the serving process only: not in tests, CLI commands, or the reloader's watcher."""
    if not app.config["SCHEDULER_ENABLED"] or app.testing:
        return False
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        context = click.get_current_context(silent=True)
        if context is None or context.info_name != "run":
            return False
        # `flask run` reloads when asked, or in debug mode: a development config's DEBUG
        # alone (`flask run --no-reload`) starts no watcher process.
        reload = context.params.get("reload")
        if reload is None:
            reload = get_debug_flag()
        if reload and not is_running_from_reloader():
            return False
    return True


class Scheduler:
    def __init__(self, app):
        self.app = app
        self.holder = lease.process_identity()
        self.ttl = app.config["SCHEDULER_LEASE_SECONDS"]
        config = app.config
        self.scheduler = BackgroundScheduler(
            timezone=ZoneInfo(config["SHOP_TIMEZONE"]),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 120},
        )
        self.scheduler.add_job(
            self.renew_lease, IntervalTrigger(seconds=max(1, self.ttl // 3)), id="lease"
        )
        self.triggers = {name: job.trigger(config) for name, job in registered_jobs(app).items()}
        for name, trigger in self.triggers.items():
            self.scheduler.add_job(self.tick, trigger, args=[name], id=name)

    def start(self):
        self.renew_lease()
        self.scheduler.start()
        atexit.register(self.stop)
        return self

    def stop(self):
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self.app.app_context():
            lease.release(self.holder)
            db.session.remove()

    def renew_lease(self):
        with self.app.app_context():
            try:
                lease.try_acquire(self.holder, self.ttl)
            except Exception:  # noqa: BLE001 - the next renewal tries again
                db.session.rollback()
                log.exception("could not renew the scheduler lease")
            finally:
                db.session.remove()

    def tick(self, name):
        with self.app.app_context():
            try:
                if lease.holds(self.holder):
                    run_job(name, "schedule", self.holder)
            finally:
                db.session.remove()

    def next_runs(self):
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs() if job.id != "lease"}


def start_scheduler(app):
    if not should_start(app):
        return None
    scheduler = Scheduler(app).start()
    app.extensions["reclaim_scheduler"] = scheduler
    return scheduler
