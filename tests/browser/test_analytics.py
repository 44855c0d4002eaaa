"""/analytics/ in a browser: the charts draw from their JSON, redraw when the range changes
(the old ones destroyed, none left behind), come back with the back button, and a count
opens the list that says the same number."""

import pytest

from dashboard.analytics.rollup import update_analytics
from tests.analytics.conftest import ANALYTICS_SETTINGS, build_scenario
from tests.factories import PASSWORD

CHART_LABELS = "c => { const chart = Chart.getChart(c); return chart ? chart.data.labels : null; }"


@pytest.fixture
def analytics_shop(app, monkeypatch):
    for name, value in ANALYTICS_SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)
    with app.app_context():
        build_scenario()
        update_analytics()


def days_chart_labels(page):
    return page.eval_on_selector("#days-canvas", CHART_LABELS)


def test_change_the_range_charts_redraw_back_restores_and_a_count_opens_its_list(
    page, console_errors, sign_in, make_staff, analytics_shop
):
    make_staff("viewer", email="viewer@example.com")
    sign_in("viewer@example.com", PASSWORD)
    page.goto("/analytics/?from=2026-10-24&to=2026-10-26")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('days-canvas'))"
    )
    assert days_chart_labels(page) == ["24 Oct", "25 Oct", "26 Oct"]
    assert page.locator("#report-funnel tr[data-stage='abandoned'] .count-link").inner_text() == "6"

    # A narrower range: the form refreshes the reports through htmx and pushes the URL.
    page.locator("#from").fill("2026-10-25")
    page.wait_for_url("**/analytics/?from=2026-10-25&to=2026-10-26*")
    page.wait_for_function(
        "() => { const c = document.getElementById('days-canvas');"
        " const chart = c && Chart.getChart(c); return chart && chart.data.labels.length === 2; }"
    )
    assert days_chart_labels(page) == ["25 Oct", "26 Oct"]
    assert page.locator("#report-funnel tr[data-stage='abandoned'] .count-link").inner_text() == "3"
    # Every section loaded (five charts), and the charts of the old range were destroyed,
    # not left drawing on detached canvases.
    page.wait_for_function("() => document.querySelectorAll('canvas[data-chart]').length === 5")
    page.wait_for_function("() => Object.keys(Chart.instances).length === 5")

    page.go_back()
    page.wait_for_url("**/analytics/?from=2026-10-24&to=2026-10-26")
    page.wait_for_function(
        "() => { const c = document.getElementById('days-canvas');"
        " const chart = c && Chart.getChart(c); return chart && chart.data.labels.length === 3; }"
    )
    assert page.locator("#from").input_value() == "2026-10-24"

    # "Recovered 1" opens the incomplete orders that are exactly that one cart.
    page.locator("#report-funnel tr[data-stage='recovered'] .count-link").click()
    page.wait_for_url("**/incomplete-orders/?*outcome=recovered*")
    count = page.locator("[data-list-count][data-count-text]")
    count.wait_for()
    assert count.get_attribute("data-count-text") == "1"
    assert console_errors == []
