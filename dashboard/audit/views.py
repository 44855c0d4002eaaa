from flask import Blueprint, current_app, request

from dashboard.audit import queries
from dashboard.audit.forms import AuditFilterForm
from dashboard.auth.permissions import role_required
from dashboard.htmx import render_page_or_fragment

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@role_required("viewer")
def list_events():
    form = AuditFilterForm(request.args)
    filters = form.valid_data()
    page, count, capped = queries.list_page(filters, current_app.config["PAGE_SIZE"])
    return render_page_or_fragment(
        "audit/list.html",
        "audit/_table.html",
        form=form,
        page=page,
        count=count,
        capped=capped,
        record_endpoints=queries.RECORD_ENDPOINTS,
    )
