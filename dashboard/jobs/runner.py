"""Running a job and recording the run, whoever asked for it."""

import json
import logging
import threading
from dataclasses import dataclass

from flask import current_app

from dashboard.extensions import db
from dashboard.jobs.models import JobRun
from dashboard.recovery import jobs as recovery_jobs
from dashboard.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    run: object  # () -> dict of counts


JOBS = {
    job.name: job
    for job in (
        Job("recovery", "Recovery emails", recovery_jobs.recovery_run),
        Job("delivery", "Outbox delivery", recovery_jobs.delivery_run),
        Job("cleanup", "Clean-up", recovery_jobs.cleanup_run),
    )
}


def schedule_in_words(config):
    """How often each job runs, as the settings say, for the /jobs/ page."""
    recovery = config["RECOVERY_RUN_SECONDS"] or 60 * config["RECOVERY_RUN_MINUTES"]
    return {
        "recovery": f"every {recovery:,} s",
        "delivery": f"every {config['DELIVERY_RUN_SECONDS']:,} s",
        "cleanup": f"daily at {config['CLEANUP_HOUR']:02d}:00 shop time",
    }


def run_job(name, trigger, holder):
    """Run one job now in this app context, recording its run. Returns the JobRun."""
    job = JOBS[name]
    run = JobRun(job=name, trigger=trigger, holder=holder, started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        counts = job.run()
    except Exception as error:  # noqa: BLE001 - a failed run is recorded, not raised
        db.session.rollback()
        log.exception("job %s failed", name)
        outcome, counts, message = "error", {}, f"{type(error).__name__}: {error}"
    else:
        outcome, message = "ok", None
    run = db.session.get(JobRun, run_id)
    run.finished_at, run.outcome, run.error = utcnow(), outcome, message
    run.counts_json = json.dumps(counts)
    db.session.commit()
    return run


def run_in_background(name, trigger, holder):
    """Start a run in a thread of this process (a manager's "run now")."""
    app = current_app._get_current_object()

    def target():
        with app.app_context():
            run_job(name, trigger, holder)

    thread = threading.Thread(target=target, name=f"job-{name}", daemon=True)
    thread.start()
    return thread
