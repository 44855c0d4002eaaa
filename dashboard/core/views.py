from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.incomplete_orders.queries import counts_by_status

bp = Blueprint("core", __name__)


@bp.get("/")
@role_required("viewer")
def overview():
    return render_template("core/overview.html", counts=None)


@bp.get("/overview/status-counts")
@role_required("viewer")
def status_counts():
    return render_template("core/_status_counts.html", counts=counts_by_status())


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
        database = f"error: {type(error).__name__}"
    healthy = database == "ok"
    return jsonify(status="ok" if healthy else "unavailable", database=database), (
        200 if healthy else 503
    )
