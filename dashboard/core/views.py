from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.incomplete_orders.queries import counts_by_status
from dashboard.jobs import lease
from dashboard.returns.queries import desk_numbers
from dashboard.timeutil import as_utc, utcnow

bp = Blueprint("core", __name__)


@bp.get("/")
@role_required("viewer")
def overview():
    return render_template("core/overview.html", counts=None, returns=desk_numbers(), now=utcnow())


@bp.get("/overview/status-counts")
@role_required("viewer")
def status_counts():
    return render_template("core/_status_counts.html", counts=counts_by_status())


@bp.get("/healthz")
def healthz():
    """For a load balancer: does the database answer, and who runs the scheduled jobs."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
        holder = lease.current()
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        database, holder = f"error: {type(error).__name__}", None
    scheduler = current_app.extensions.get("reclaim_scheduler")
    healthy = database == "ok"
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "scheduler": {
            "enabled": current_app.config["SCHEDULER_ENABLED"],
            "running_here": scheduler is not None,
            "lease_holder": holder.holder if holder else None,
            "lease_expires_at": as_utc(holder.expires_at).isoformat() if holder else None,
        },
    }
    return jsonify(body), 200 if healthy else 503
