from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select

from dashboard.auth.forms import EmptyForm
from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.jobs.runner import JOBS, run_in_background, schedule_in_words
from dashboard.recovery import service as recovery

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

RECENT_RUNS = 20
PREVIEW_ROWS = 200


def _scheduler():
    return current_app.extensions.get("reclaim_scheduler")


@bp.get("/")
@role_required("viewer")
def list_jobs():
    scheduler = _scheduler()
    runs = {
        name: db.session.scalars(
            select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(RECENT_RUNS)
        ).all()
        for name in JOBS
    }
    return render_template(
        "jobs/list.html",
        jobs=JOBS,
        schedule=schedule_in_words(current_app.config),
        runs=runs,
        lease=lease.current(),
        next_runs=scheduler.next_runs() if scheduler else {},
        this_process=scheduler.holder if scheduler else None,
        empty_form=EmptyForm(),
    )


@bp.post("/<name>/run")
@role_required("manager")
def run_now(name):
    if name not in JOBS:
        abort(404)
    scheduler = _scheduler()
    holder = scheduler.holder if scheduler else lease.process_identity()
    run_in_background(name, "manual", holder)
    flash(f"{JOBS[name].title} started; its run appears below when it ends.", "success")
    return redirect(url_for(".list_jobs"))


@bp.get("/recovery/preview")
@role_required("manager")
def preview_recovery():
    result = recovery.send_due(None, dry_run=True)
    return render_template(
        "jobs/preview.html", planned=result.planned[:PREVIEW_ROWS], total=len(result.planned)
    )
