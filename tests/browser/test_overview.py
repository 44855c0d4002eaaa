"""The overview in a browser: its small charts draw from their JSON once the recovery
numbers arrive and are destroyed when htmx replaces them, a bar opens the list of the
carts it counts, and the page fits a 390 px phone."""

from datetime import timedelta

from dashboard.analytics.rollup import update_analytics
from dashboard.extensions import db
from dashboard.timeutil import utcnow
from tests.analytics.conftest import Scenario
from tests.browser.layout import sideways_scroll
from tests.factories import PASSWORD

CHARTS = ("overview-abandoned-canvas", "overview-recovered-canvas")
CHART = (
    "id => { const chart = Chart.getChart(document.getElementById(id));"
    " return chart && {labels: chart.data.labels.length,"
    " total: chart.data.datasets[0].data.reduce((a, b) => a + b, 0),"
    " width: chart.width, height: chart.height}; }"
)


def charts_drawn(page):
    page.wait_for_function(
        "ids => window.Chart && ids.every(id => Chart.getChart(document.getElementById(id)))",
        arg=list(CHARTS),
    )
    return {name: page.evaluate(CHART, name) for name in CHARTS}


def test_the_overview_draws_its_charts_and_fits_a_phone(
    app, page, console_errors, sign_in, make_staff
):
    with app.app_context():
        s = Scenario()
        s.cart("R1", utcnow() - timedelta(days=3))
        s.email("R1", 1, utcnow() - timedelta(days=3) + timedelta(minutes=30))
        s.convert("R1", utcnow() - timedelta(days=2), total=4200)
        s.cart("O1", utcnow() - timedelta(days=20))
        db.session.commit()
        update_analytics()
    make_staff("viewer", email="viewer@example.com")
    sign_in("viewer@example.com", PASSWORD)

    charts = charts_drawn(page)
    assert charts["overview-abandoned-canvas"]["labels"] == 30
    assert charts["overview-abandoned-canvas"]["total"] == 2
    assert charts["overview-recovered-canvas"]["total"] == 1
    assert all(c["width"] > 100 and c["height"] > 40 for c in charts.values()), charts

    # htmx replaces the fragment: its charts are destroyed first, not left drawing on
    # detached canvases.
    page.evaluate(
        "htmx.ajax('GET', '/overview/top-carts',"
        " {target: '[data-overview-recovery]', swap: 'outerHTML'})"
    )
    page.wait_for_function("() => !document.querySelector('[data-overview-recovery]')")
    assert page.evaluate("Object.keys(Chart.instances).length") == 0

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    charts = charts_drawn(page)
    page.locator("[data-top-carts]").wait_for()
    assert all(c["width"] > 100 for c in charts.values()), charts
    overflow = sideways_scroll(page)
    assert overflow <= 0, f"the overview scrolls sideways by {overflow} px on a 390 px screen"

    # A bar opens the list of the carts it counts: the day's one recovered cart.
    page.locator("#overview-recovered-canvas").scroll_into_view_if_needed()
    x, y = page.evaluate(
        "() => { const canvas = document.getElementById('overview-recovered-canvas');"
        " const chart = Chart.getChart(canvas);"
        " const i = chart.data.datasets[0].data.findIndex(n => n > 0);"
        " const bar = chart.getDatasetMeta(0).data[i], box = canvas.getBoundingClientRect();"
        " return [box.left + bar.x, box.top + (bar.y + bar.base) / 2]; }"
    )
    page.mouse.click(x, y)
    page.wait_for_url("**/incomplete-orders/?*outcome=recovered*")
    count = page.locator("[data-list-count][data-count-text]")
    count.wait_for()
    assert count.get_attribute("data-count-text") == "1"
    assert console_errors == []
