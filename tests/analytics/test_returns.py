"""The returns report: each request on the shop day of each of its events, processing times
from the stored hour buckets, refunds on the day completed; the rollup equals the live count
and the CSV says the same."""

import csv
import io
from datetime import timedelta

import pytest

from dashboard.analytics import definitions as d
from dashboard.analytics.reports import Range, Reports
from dashboard.analytics.rollup import update_analytics
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.returns import service
from dashboard.timeutil import shop_day_start_utc, to_shop_time, utcnow
from tests.factories import RETURN_SETTINGS, storefront_order, submitted

STAFF = Actor.system("test-desk")


@pytest.fixture
def desk(app, monkeypatch):
    """Two requests about one order, submitted on a known shop day ten days ago: one approved
    after 23 hours, received, and refunded; one rejected after 69 hours."""
    for name, value in RETURN_SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)
    with app.app_context():
        day = to_shop_time(utcnow()).date() - timedelta(days=10)
        at = shop_day_start_utc(day)
        order = storefront_order(days_ago=20, delivered_days_ago=15)
        shirts = submitted(order, ("SKU-1", 2))
        belt = submitted(order, ("SKU-2", 1), reason="changed_mind")
        shirts.submitted_at = at + timedelta(hours=10)
        belt.submitted_at = at + timedelta(hours=12)
        db.session.flush()
        service.approve(shirts, STAFF, now=at + timedelta(hours=33))
        service.reject(belt, STAFF, "outside_policy", "Sorry.", now=at + timedelta(hours=81))
        service.receive(shirts, STAFF, now=at + timedelta(days=3, hours=10))
        service.complete(
            shirts,
            STAFF,
            method="original_payment",
            reference="PSP-1",
            now=at + timedelta(days=4, hours=10),
        )
        db.session.commit()
        return day


def figures(app, first, last):
    with app.app_context():
        report = Reports(Range(first, last, "none")).returns()
        return report.total, report.processing(), report.by_day()


def return_rates(app, first, last):
    with app.app_context():
        rates = Reports(Range(first, last, "none")).returns().return_rates()
        return [(row["orders"], row["requests"]) for row in rates]


def test_each_request_counts_on_the_day_of_each_event(app, desk):
    total, processing, days = figures(app, desk, desk + timedelta(days=4))
    assert (total["requests"], total["units"], total["approved"], total["rejected"]) == (2, 3, 1, 1)
    assert (total["received"], total["completed"]) == (1, 1)
    assert total.money["refunded"]["EUR"] == 5000  # two shirts at 25.00
    by_day = {row["day"]: row for row in days}
    assert by_day[desk]["requests"] == 2
    assert by_day[desk + timedelta(days=1)]["approved"] == 1
    assert by_day[desk + timedelta(days=3)]["rejected"] == 1
    assert by_day[desk + timedelta(days=4)]["completed"] == 1
    decision = processing[0]
    assert (decision["count"], decision["median"], decision["p90"]) == (2, 24, 72)
    assert decision["within_sla"] == 0.5  # 23 h within 48 h, 69 h not


def test_the_rollup_gives_the_same_figures_and_the_csv_says_them(app, client, login, desk):
    last = desk + timedelta(days=4)
    live_total, live_processing, _ = figures(app, desk, last)
    live_rates = return_rates(app, desk - timedelta(days=20), last)
    with app.app_context():
        assert update_analytics().return_days  # stored
    stored_total, stored_processing, _ = figures(app, desk, last)
    # The order was placed twenty days ago, before the first request: its day is stored too.
    assert return_rates(app, desk - timedelta(days=20), last) == live_rates == [(0, 0), (1, 2)]
    assert dict(stored_total.counts) == dict(live_total.counts)
    assert stored_total.histograms == live_total.histograms
    assert stored_processing == live_processing

    login("viewer")
    body = client.get(
        "/analytics/returns.csv", query_string={"from": desk.isoformat(), "to": last.isoformat()}
    ).text
    rows = {r["day"]: r for r in csv.DictReader(io.StringIO(body))}
    assert rows[desk.isoformat()]["requests"] == "2" and rows[desk.isoformat()]["units"] == "3"
    completed = rows[(desk + timedelta(days=4)).isoformat()]
    assert (completed["refunded_minor"], completed["refunded"], completed["currency"]) == (
        "5000",
        "50.00",
        "EUR",
    )

    html = client.get(
        "/analytics/sections/returns",
        query_string={"from": desk.isoformat(), "to": last.isoformat()},
        headers={"HX-Request": "true"},
    ).text
    assert "≤ 24 h" in html and "≤ 72 h" in html and "50.0%" in html


def test_the_chart_shows_each_days_requests_and_completions_live_and_stored(app, desk):
    first, last = desk - timedelta(days=1), desk + timedelta(days=5)

    def chart():
        with app.app_context():
            return Reports(Range(first, last, "none")).returns().chart_days()

    live = chart()
    with app.app_context():
        assert update_analytics().return_days
    stored = chart()
    assert stored == live
    assert live["labels"][1] == desk.strftime("%d %b") and len(live["labels"]) == 7
    assert live["requests"] == [0, 2, 0, 0, 0, 0, 0]
    assert live["completed"] == [0, 0, 0, 0, 0, 1, 0]


def test_an_order_reported_after_a_run_counts_on_its_day_from_the_next_run(app, desk):
    with app.app_context():
        settled = d.AnalyticsSettings.from_config().returns_changing_days + 5  # days ago
        storefront_order(days_ago=settled + 5, email="early@example.com")
        db.session.commit()
        update_analytics()
    first, last = desk - timedelta(days=settled + 10), desk + timedelta(days=5)
    assert return_rates(app, first, last) == [(0, 0), (2, 2)]
    with app.app_context():
        # Reported today, placed on a stored day no run recomputes any more.
        storefront_order(days_ago=settled, email="late@example.com")
        db.session.commit()
        run = update_analytics()
        assert to_shop_time(utcnow() - timedelta(days=settled)).date() in run.return_days
    assert return_rates(app, first, last) == [(0, 0), (3, 2)]
