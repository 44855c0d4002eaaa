"""/analytics/ as staff read it: the sections with the scenario's figures, "—" for a rate
with nothing to divide by, and the CSVs for finance."""

import csv
import io
import re

import pytest

from dashboard.analytics.rollup import update_analytics
from tests.analytics.conftest import EXPECTED, MON, SAT, SUN

RANGE = {"from": SAT.isoformat(), "to": MON.isoformat()}


@pytest.fixture
def rolled_up(app, scenario):
    with app.app_context():
        update_analytics()


def section(client, name, **args):
    response = client.get(
        f"/analytics/sections/{name}",
        query_string={**RANGE, **args},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return response.text


def text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_viewers_read_the_page_and_its_sections_load_with_the_range(client, login, rolled_up):
    login("viewer")
    page = client.get("/analytics/", query_string=RANGE)
    assert page.status_code == 200
    for name in ("summary", "funnel", "days", "steps"):
        assert f'hx-get="/analytics/sections/{name}?from=2026-10-24&amp;to=2026-10-26"' in page.text
    assert "<script>" not in page.text  # charts come from JSON, drawn by static/analytics.js

    fragment = client.get("/analytics/", query_string=RANGE, headers={"HX-Request": "true"})
    assert 'id="analytics-reports"' in fragment.text and "<html" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_funnel_shows_the_stages_and_the_identity(client, login, rolled_up):
    login("viewer")
    html = section(client, "funnel")
    total = {k: sum(EXPECTED[d][k] for d in EXPECTED) for k in EXPECTED[SAT]}
    identity = text(html[html.index("data-identity") :])
    assert (
        f"{total['abandoned']} abandoned = {total['recovered']} recovered + {total['late']} converted late + "
        f"{total['self_converted']} converted without an email + {total['lost']} lost + "
        f"{total['still_open']} still open"
    ) in identity
    assert "does not add up" not in identity
    rows = dict(
        re.findall(r'data-stage="(\w+)">.*?count-link tabular" href="[^"]*">(\d+)<', html, re.S)
    )
    assert rows == {
        "abandoned": "6",
        "recoverable": "3",
        "emailed": "3",
        "clicked": "1",
        "recovered": "1",
    }
    assert "RECOVERY_ATTRIBUTION_DAYS = 5" in html and "Europe/Berlin" in html
    assert 'type="application/json" id="funnel-data"' in html


def test_by_day_and_per_step(client, login, rolled_up):
    login("viewer")
    days = section(client, "days")
    row = text(days[days.index('<tr data-day="2026-10-25"') :].split("</tr>")[0])
    assert "Sun 25 Oct 2026 2 0 €0.00" in row
    row = text(days[days.index('<tr data-day="2026-10-24"') :].split("</tr>")[0])
    assert "Sat 24 Oct 2026 3 1 €64.90" in row

    steps = section(client, "steps")
    step1 = text(steps[steps.index('<tr data-step="1"') :].split("</tr>")[0])
    # sent, failed, withdrawn, clicked, click rate, recovered, rate, revenue, per email, unsubscribed
    assert step1.split() == [
        "Step",
        "1",
        "3",
        "1",
        "0",
        "1",
        "33.3%",
        "1",
        "33.3%",
        "€64.90",
        "€21.63",
        "1",
    ]


def test_a_rate_with_nothing_to_divide_by_is_a_dash(client, login, rolled_up):
    login("viewer")
    html = section(client, "summary", **{"from": "2025-01-01", "to": "2025-01-07"})
    tile = html[html.index('data-tile="rate_emailed"') :].split("</div>\n  </div>")[0]
    assert (
        "—" in tile
        and "INF" not in html
        and "NaN" not in html
        and "%" not in text(tile).split("before")[0]
    )


def test_the_recovery_csv_has_a_row_per_day_with_money_in_minor_units_and_decimal(
    client, login, rolled_up
):
    login("viewer")
    response = client.get("/analytics/recovery.csv", query_string=RANGE)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["day"] for r in rows] == ["2026-10-24", "2026-10-25", "2026-10-26"]
    saturday = rows[0]
    for name, value in EXPECTED[SAT].items():
        if name.endswith("revenue"):
            assert saturday[f"{name}_minor"] == str(value)
        else:
            assert saturday[name] == str(value), name
    assert saturday["recovered_revenue"] == "64.90" and saturday["net_recovered_revenue"] == "54.90"
    assert saturday["currency"] == "EUR" and saturday["provisional"] == "no"
    assert rows[1]["lost"] == str(EXPECTED[SUN]["lost"])


def test_the_steps_csv(client, login, rolled_up):
    login("viewer")
    rows = list(
        csv.DictReader(io.StringIO(client.get("/analytics/steps.csv", query_string=RANGE).text))
    )
    assert [
        (r["step"], r["sent"], r["failed"], r["clicked"], r["recovered"], r["unsubscribed"])
        for r in rows
    ] == [
        ("1", "3", "1", "1", "1", "1"),
        ("2", "1", "0", "0", "0", "0"),
    ]
    assert rows[0]["recovered_revenue_minor"] == "6490" and rows[0]["recovered_revenue"] == "64.90"


def list_count(client, href):
    """The number the list opened by `href` says it holds."""
    path, _, query = href.replace("&amp;", "&").partition("?")
    assert path == "/incomplete-orders/"
    html = client.get(f"/incomplete-orders/count?{query}").text
    match = re.search(r'data-count-text="([^"]*)"', html)
    assert match, html
    return int(re.sub(r"\D", "", match.group(1)) or 0)


@pytest.mark.parametrize("name", ["summary", "funnel", "days"])
def test_every_count_opens_the_list_that_holds_exactly_those_carts(client, login, rolled_up, name):
    login("viewer")
    html = section(client, name)
    links = re.findall(r'class="count-link tabular" href="([^"]+)">([\d,]+)<', html)
    assert len(links) >= 2
    for href, shown in links:
        assert list_count(client, href) == int(shown.replace(",", "")), href


def test_abandonment_patterns_and_their_csvs(client, login, rolled_up):
    login("viewer")
    html = section(client, "patterns")
    customer = html[html.index('data-pattern="customer"') :].split("</table>")[0]
    # Guests: A1, A3, B1, B2 (one recovered); registered: A2, C1.
    assert "Guests 4 1 25.0%" in text(customer)
    assert "Registered customers 2 0 0.0%" in text(customer)
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    "/analytics/abandonment.csv", query_string={**RANGE, "by": "value_band"}
                ).text
            )
        )
    )
    assert [(r["label"], r["abandoned"]) for r in rows][:3] == [
        ("under 25 EUR", "2"),  # A3 and C1, 5 EUR each
        ("25–50 EUR", "0"),
        ("50–100 EUR", "4"),
    ]
    heat = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    "/analytics/abandonment.csv", query_string={**RANGE, "by": "weekday_hour"}
                ).text
            )
        )
    )
    # A1 counted at 23:30 on a Saturday, shop time.
    assert {"weekday": "Sat", "hour": "23", "abandoned": "1"} in heat
    assert client.get("/analytics/abandonment.csv", query_string={"by": "nope"}).status_code == 404
    skus = client.get("/analytics/abandonment.csv", query_string={**RANGE, "by": "sku"}).text
    assert "SKU-1,Linen shirt,6,6,1" in skus


def test_the_overview_shows_the_last_7_and_30_days_as_analytics_counts_them(client, login, app):
    from datetime import timedelta

    from dashboard.timeutil import utcnow
    from tests.analytics.conftest import Scenario

    with app.app_context():
        s = Scenario()
        s.cart("R1", utcnow() - timedelta(days=3))
        s.email("R1", 1, utcnow() - timedelta(days=3) + timedelta(minutes=30))
        s.convert("R1", utcnow() - timedelta(days=2), total=4200)
        s.cart("O1", utcnow() - timedelta(days=20))
        from dashboard.extensions import db

        db.session.commit()
        update_analytics()
    login("viewer")
    assert 'hx-get="/analytics/overview"' in client.get("/").text
    rows = re.findall(
        r"<tr><th[^>]*><a[^>]*>(Last \d+ days)</a></th>(.*?)</tr>",
        client.get("/analytics/overview").text,
        re.S,
    )
    figures = {label: text(cells).split() for label, cells in rows}
    assert figures["Last 7 days"] == ["1", "1", "100.0%", "€42.00"]
    assert figures["Last 30 days"] == ["2", "1", "100.0%", "€42.00"]
