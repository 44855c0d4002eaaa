from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from dashboard.auth.permissions import role_required
from dashboard.core.attention import most_valuable_open_carts, needs_attention
from dashboard.extensions import db
from dashboard.incomplete_orders.queries import counts_by_status
from dashboard.jobs import lease
from dashboard.returns.queries import desk_numbers
from dashboard.timeutil import utcnow

bp = Blueprint("core", __name__)


@bp.get("/")
@role_required("viewer")
def overview():
    now = utcnow()
    return render_template(
        "core/overview.html",
        counts=None,
        attention=needs_attention(now),
        returns=desk_numbers(now),
        now=now,
    )


@bp.get("/overview/status-counts")
@role_required("viewer")
def status_counts():
    return render_template("core/_status_counts.html", counts=counts_by_status())


@bp.get("/overview/top-carts")
@role_required("viewer")
def top_carts():
    """The most valuable open carts: a read of the value index, on a request of its own."""
    return render_template("core/_top_carts.html", carts=most_valuable_open_carts())


@bp.get("/healthz")
def healthz():
    """For a load balancer, and anyone: does the database answer, and are the scheduled jobs
    being run (by some process). It names no host or process: that is for /jobs/."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
        holder = lease.current()
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        database, holder = "unavailable", None
    healthy = database == "ok"
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "scheduler": {
            "enabled": current_app.config["SCHEDULER_ENABLED"],
            "running": holder is not None and holder.expires_at > utcnow(),
        },
    }
    return jsonify(body), 200 if healthy else 503
