"""/analytics/: the page, its report sections (each an htmx fragment of its own) and the
CSVs for finance. Thin: parse the range, build the report, render."""

from datetime import timedelta

from flask import Blueprint, abort, render_template, request, url_for

from dashboard.analytics import exports
from dashboard.analytics.forms import AnalyticsFilterForm
from dashboard.analytics.reports import PRESETS, Range, Reports, preset_range, today
from dashboard.auth.permissions import role_required
from dashboard.htmx import render_page_or_fragment

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

SECTIONS = {
    "summary": "Summary",
    "funnel": "Recovery funnel",
    "days": "By day",
    "steps": "Per recovery email",
    "holdout": "Measuring recovery (holdout)",
    "patterns": "Abandonment patterns",
    "returns": "Returns",
}


def _reports():
    form = AnalyticsFilterForm(request.args)
    return form, Reports(form.range())


def presets(range_):
    shop_today = today()
    links = []
    for name, label in PRESETS:
        first, last = preset_range(name, shop_today)
        query = range_.query(**{"from": first.isoformat(), "to": last.isoformat()})
        links.append((label, url_for("analytics.page", **query)))
    return links


@bp.get("/")
@role_required("viewer")
def page():
    form, reports = _reports()
    return render_page_or_fragment(
        "analytics/page.html",
        "analytics/_reports.html",
        form=form,
        range=reports.range,
        sections=SECTIONS,
        presets=presets(reports.range),
    )


@bp.get("/sections/<any(summary, funnel, days, steps, holdout, patterns, returns):name>")
@role_required("viewer")
def section(name):
    form, reports = _reports()
    response = render_template(
        f"analytics/_{name}.html", reports=reports, range=reports.range, settings=reports.settings
    )
    return response, 200, {"Vary": "HX-Request"}


@bp.get("/overview")
@role_required("viewer")
def overview():
    """The overview's recovery numbers (loaded into / by htmx): the last 7 and 30 days."""
    last = today()
    periods = [
        (label, Reports(Range(last - timedelta(days=days - 1), last, "none")))
        for label, days in (("Last 7 days", 7), ("Last 30 days", 30))
    ]
    return render_template(
        "analytics/_overview.html", periods=periods, settings=periods[0][1].settings
    )


@bp.get("/recovery.csv")
@role_required("viewer")
def recovery_csv():
    _, reports = _reports()
    return exports.recovery_csv(reports)


@bp.get("/steps.csv")
@role_required("viewer")
def steps_csv():
    _, reports = _reports()
    return exports.steps_csv(reports)


@bp.get("/holdout.csv")
@role_required("viewer")
def holdout_csv():
    _, reports = _reports()
    return exports.holdout_csv(reports)


@bp.get("/abandonment.csv")
@role_required("viewer")
def abandonment_csv():
    _, reports = _reports()
    by = request.args.get("by", "stage")
    if by not in exports.ABANDONMENT_BY:
        abort(404)
    return exports.abandonment_csv(reports, by)


@bp.get("/returns.csv")
@role_required("viewer")
def returns_csv():
    _, reports = _reports()
    return exports.returns_csv(reports)
