"""Measuring recovery on /analytics/: the emailed and the held-out carts' conversion rates
side by side, the lift with its 95% interval and the revenue the emails added, on a small
scenario whose answers are worked out by hand below; "—" when there is nothing to divide by,
and how to turn the holdout on when it is off."""

import csv
import io
import math
import re
from datetime import timedelta
from html import unescape

import pytest

from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.analytics.holdout import newcombe_interval, wilson_interval
from dashboard.analytics.rollup import mark_abandoned, update_analytics
from dashboard.extensions import db
from tests.analytics.conftest import AFTER, SAT, Scenario, utc
from tests.analytics.test_views import list_count

RANGE = {"from": SAT.isoformat(), "to": SAT.isoformat()}
ABANDONED = utc(2026, 10, 24, 10, 0)  # Saturday, 12:00 in Berlin

# With RECOVERY_HOLDOUT_PERCENT = 25, by the buckets of their emails (<name>@example.com):
# held out dee (20), jo (11), ivy (12), pia (23); emailed ada (40), fay (30), max (38),
# bob (88), kim (87), lou (86).
#
# Emailed group: n₁ = 5 carts (ada, fay, max, bob, kim), 4 emailed (kim's customer bought
# elsewhere first), c₁ = 2 converted (ada 80.00, fay 40.00): p₁ = 0.4, R = 120.00.
# Held out: n₀ = 3 (dee, jo, ivy), c₀ = 1 (jo, 50.00): p₀ = 1/3.
# Left out: pia (unsubscribed before her cart was abandoned), lou (cart below the minimum),
# oz (arrived while the holdout was off).
#
# Lift p₁ − p₀ = 0.4 − 0.3333 = +6.7 points.
# Wilson, z = 1.96, z² = 3.8415:
#   2 of 5: centre (0.4 + 0.3841) / 1.7683 = 0.4434, half 1.1084 × √(0.048 + 0.0384) = 0.3258
#           → [0.1176, 0.7693]
#   1 of 3: centre (0.3333 + 0.6402) / 2.2805 = 0.4269, half 0.8595 × √(0.0741 + 0.1067) = 0.3654
#           → [0.0615, 0.7923]
# Newcombe: 0.0667 − √(0.2824² + 0.4590²) = −0.4722; 0.0667 + √(0.3693² + 0.2718²) = 0.5252,
#   so −47.2 to +52.5 points.
# Added revenue: m = 120.00 / 2 = 60.00; R − p₀ × n₁ × m = 120.00 − 5/3 × 60.00 = 20.00;
#   interval n₁ × m × (−0.4722, 0.5252) = 300.00 × … = −141.67 to 157.56.


@pytest.fixture
def holdout_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "RECOVERY_HOLDOUT_PERCENT", 25)


@pytest.fixture
def comparison(app, holdout_on, monkeypatch):
    with app.app_context():
        s = Scenario()
        for name in ("ada", "fay", "max", "bob", "kim", "dee", "jo", "ivy", "pia"):
            s.cart(name, ABANDONED)
        s.cart("lou", ABANDONED, value=500)
        monkeypatch.setitem(app.config, "RECOVERY_HOLDOUT_PERCENT", 0)
        s.cart("oz", ABANDONED)
        monkeypatch.setitem(app.config, "RECOVERY_HOLDOUT_PERCENT", 25)
        sent = ABANDONED + timedelta(minutes=5)
        for name in ("ada", "fay", "max", "bob"):
            s.email(name, 1, sent)
        s.convert("ada", sent + timedelta(hours=3), total=8000)
        s.convert("fay", sent + timedelta(days=9), total=4000)  # late, still a conversion
        s.unsubscribe("max", sent + timedelta(hours=1))  # after the email: stays in
        s.convert("jo", ABANDONED + timedelta(days=1), total=5000)
        s.unsubscribe("pia", ABANDONED - timedelta(minutes=5))  # before: left out
        s.convert("oz", ABANDONED + timedelta(hours=1), total=9900)
        db.session.commit()
        groups = {name: cart.recovery_holdout for name, cart in s.carts.items()}
        mark_abandoned(AnalyticsSettings.from_config(), AFTER)  # what the live count reads
    assert [n for n, held in groups.items() if held] == ["dee", "jo", "ivy", "pia"]
    assert groups["oz"] is None


def section(client, **args):
    response = client.get(
        "/analytics/sections/holdout",
        query_string={**RANGE, **args},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return response.text


def text(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def row(html, attribute, value):
    start = html.index(f'{attribute}="{value}"')
    return text(html[start:].split(">", 1)[1].split("</tr>")[0])


def test_wilson_and_newcombe_give_the_intervals_worked_out_by_hand():
    low, high = wilson_interval(2, 5)
    assert (round(low, 4), round(high, 4)) == (0.1176, 0.7693)
    low, high = wilson_interval(1, 3)
    assert (round(low, 4), round(high, 4)) == (0.0615, 0.7923)
    low, high = newcombe_interval(2, 5, 1, 3)
    assert (round(low, 4), round(high, 4)) == (-0.4722, 0.5252)
    # None converted and all converted: an interval of width, not a point as Wald's would be.
    low, high = wilson_interval(0, 10)
    assert low == 0 and math.isclose(high, 0.2775, abs_tol=1e-4)
    assert newcombe_interval(1, 0, 0, 3) is None and wilson_interval(0, 0) is None


def test_the_section_compares_the_groups_with_the_lift_and_the_revenue_added(
    app, client, login, comparison
):
    login("viewer")
    live = section(client)
    with app.app_context():
        update_analytics(now=AFTER)
    for html in (live, section(client)):  # counted live, then from the stored day
        assert row(html, "data-group", "emailed_group") == ("Emailed group 5 4 2 40.0% €120.00")
        assert row(html, "data-group", "held_out") == "Held out 3 none 1 33.3% €50.00"
        assert row(html, "data-estimate", "lift") == (
            "Lift (emailed − held out) +6.7 points -47.2 to +52.5 points"
        )
        assert row(html, "data-estimate", "added_revenue") == (
            "Revenue the emails added €20.00 -€141.67 to €157.56"
        )
        assert "The interval includes zero" in html
        assert "R − p₀ × n × m" in html and "Newcombe" in html  # the formulas, in the note
        assert 'id="holdout-data"' in html  # the chart's numbers
        assert "INF" not in html and "NaN" not in html


def test_with_no_carts_in_the_range_every_rate_is_a_dash(client, login, holdout_on):
    login("viewer")
    html = section(client, **{"from": "2025-01-01", "to": "2025-01-07"})
    assert row(html, "data-group", "emailed_group") == "Emailed group 0 0 0 — €0.00"
    assert row(html, "data-group", "held_out") == "Held out 0 none 0 — €0.00"
    assert row(html, "data-estimate", "lift") == ("Lift (emailed − held out) — —")
    assert row(html, "data-estimate", "added_revenue") == "Revenue the emails added — —"
    assert "holdout-data" not in html  # no chart of nothing


def test_with_the_holdout_off_and_no_held_out_carts_the_section_says_how_to_turn_it_on(
    client, login
):
    login("viewer")
    html = section(client)
    assert "data-holdout-groups" not in html and "holdout.csv" not in html
    off = text(html[html.index("data-holdout-off") :])
    assert "The holdout is off ( RECOVERY_HOLDOUT_PERCENT = 0)" in off
    assert "set RECOVERY_HOLDOUT_PERCENT to a share from 1 to 50" in off


def test_turned_off_later_the_carts_placed_while_it_was_on_are_still_compared(
    app, client, login, comparison, monkeypatch
):
    monkeypatch.setitem(app.config, "RECOVERY_HOLDOUT_PERCENT", 0)
    login("viewer")
    html = section(client)
    assert row(html, "data-group", "held_out").startswith("Held out 3 ")
    assert "The holdout is off now" in text(html)


def test_the_page_loads_the_section(client, login):
    login("viewer")
    page = client.get("/analytics/", query_string=RANGE).text
    assert 'hx-get="/analytics/sections/holdout?from=2026-10-24&amp;to=2026-10-24"' in page


def test_every_count_opens_the_list_that_holds_exactly_those_carts(client, login, comparison):
    login("viewer")
    links = re.findall(r'class="count-link tabular" href="([^"]+)">([\d,]+)<', section(client))
    assert [shown for _, shown in links] == ["5", "4", "2", "3", "1"]
    for href, shown in links:
        assert list_count(client, href) == int(shown), href


def test_the_csv_has_the_groups_per_day_with_money_in_minor_units_and_decimal(
    client, login, comparison
):
    login("viewer")
    assert 'href="/analytics/holdout.csv?from=2026-10-24&amp;to=2026-10-24"' in section(client)
    response = client.get("/analytics/holdout.csv", query_string=RANGE)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    (saturday,) = csv.DictReader(io.StringIO(response.text))
    assert saturday == {
        "day": "2026-10-24",
        "held_out": "3",
        "held_out_converted": "1",
        "held_out_revenue_minor": "5000",
        "held_out_revenue": "50.00",
        "not_held_out": "5",
        "not_held_out_emailed": "4",
        "not_held_out_converted": "2",
        "not_held_out_revenue_minor": "12000",
        "not_held_out_revenue": "120.00",
        "currency": "EUR",
        "provisional": "no",
    }
