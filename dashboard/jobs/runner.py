"""Running a job and recording the run, whoever asked for it (the schedule, a manager)."""

import json
import logging
import threading

from flask import current_app

from dashboard.extensions import db
from dashboard.jobs.models import JobRun
from dashboard.jobs.registry import registered_jobs
from dashboard.timeutil import utcnow

log = logging.getLogger(__name__)


def run_job(name, trigger, holder, requested_by=None):
    """Run one job now in this app context, recording its run. Returns the JobRun.

    Owns its transactions: the run is recorded as running, the job commits its own work,
    and the outcome is recorded at the end, an error included.
    """
    return _carry_out(_record_start(name, trigger, holder, requested_by))


def _record_start(name, trigger, holder, requested_by):
    """The run, committed as running; its id."""
    run = JobRun(
        job=name, trigger=trigger, holder=holder, started_at=utcnow(), requested_by=requested_by
    )
    db.session.add(run)
    db.session.commit()
    return run.id


def _carry_out(run_id):
    """Run the job of the recorded run `run_id`, then record how it ended."""
    name = db.session.get(JobRun, run_id).job
    try:
        counts = registered_jobs()[name].run()
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


def run_in_background(name, trigger, holder, requested_by=None):
    """Start a run in a thread of this process (a manager's "run now"). The run is
    recorded as running before this returns, so the page shown next lists it (and
    refreshes itself until it ends) however soon the thread gets going."""
    app = current_app._get_current_object()
    run_id = _record_start(name, trigger, holder, requested_by)

    def target():
        with app.app_context():
            try:
                _carry_out(run_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, name=f"job-{name}", daemon=True)
    thread.start()
    return thread
