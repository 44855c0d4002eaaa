from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from dashboard.audit.service import Actor, record
from dashboard.auth.forms import EmptyForm
from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.jobs.registry import registered_jobs
from dashboard.jobs.runner import run_in_background
from dashboard.recovery import queries as recovery_queries
from dashboard.transaction import committed

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

RECENT_RUNS = 20
PREVIEW_ROWS = 200


def _scheduler():
    return current_app.extensions.get("reclaim_scheduler")


@bp.get("/")
@role_required("viewer")
def list_jobs():
    scheduler = _scheduler()
    jobs = registered_jobs()
    runs = {
        name: db.session.scalars(
            select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(RECENT_RUNS)
        ).all()
        for name in jobs
    }
    return render_template(
        "jobs/list.html",
        jobs=jobs,
        schedule={name: job.schedule(current_app.config) for name, job in jobs.items()},
        runs=runs,
        running=any(run.outcome == "running" for recent in runs.values() for run in recent),
        lease=lease.current(),
        next_runs=scheduler.next_runs() if scheduler else {},
        this_process=scheduler.holder if scheduler else None,
        empty_form=EmptyForm(),
    )


@bp.get("/<name>/run")
@role_required("manager")
def confirm_run(name):
    """Run now, first step: what the run would do if it ran now, and a button to run it."""
    job = registered_jobs().get(name) or abort(404)
    return render_template(
        "jobs/confirm.html", job=job, preview=job.preview(), empty_form=EmptyForm()
    )


@bp.post("/<name>/run")
@role_required("manager")
def run_now(name):
    job = registered_jobs().get(name) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    scheduler = _scheduler()
    holder = scheduler.holder if scheduler else lease.process_identity()
    with committed():
        record(Actor.staff(current_user), "job.run_now", "job", None, job=name)
    # The run owns its transactions, in a thread of its own: the request only starts it.
    run_in_background(name, "manual", holder, requested_by=current_user.email)
    flash(f"{job.title} started; its run appears below when it ends.", "success")
    return redirect(url_for(".list_jobs"))


@bp.get("/recovery/preview")
@role_required("manager")
def preview_recovery():
    planned, total = recovery_queries.due_now(PREVIEW_ROWS)
    return render_template("jobs/preview.html", planned=planned, total=total)
