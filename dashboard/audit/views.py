from flask import Blueprint, current_app, request

from dashboard.audit import details, queries
from dashboard.audit.forms import AuditFilterForm
from dashboard.auth.permissions import role_required
from dashboard.htmx import render_page_or_fragment

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@role_required("viewer")
def list_events():
    result = queries.list_page(AuditFilterForm(request.args), current_app.config["PAGE_SIZE"])
    return render_page_or_fragment(
        "audit/list.html",
        "audit/_table.html",
        result=result,
        record_url=queries.record_url,
        record_kinds=queries.RECORD_KINDS,
        detail_words=details.detail_words,
        records_count=details.records_count,
    )
