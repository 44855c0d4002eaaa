"""The definitions, checked figure by figure against a scenario with known answers: days in
the shop's zone, the funnel and its identity, the steps, and the stored abandonment time."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dashboard.analytics.days import day_bounds
from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.analytics.queries import (
    RECOVERY_COUNTS,
    RECOVERY_MONEY,
    read_range,
    recovery_facts,
    step_facts,
)
from dashboard.analytics.rollup import mark_abandoned
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from tests.analytics.conftest import (
    AFTER,
    EXPECTED,
    EXPECTED_STEPS,
    FIRST_DELAY,
    MON,
    SAT,
    SUN,
)


def per_day(rows):
    days = {}
    for row in rows:
        totals = days.setdefault(row["day"], dict.fromkeys(RECOVERY_COUNTS + RECOVERY_MONEY, 0))
        for name in RECOVERY_COUNTS + RECOVERY_MONEY:
            totals[name] += row[name]
    return days


@pytest.fixture
def abandoned(app, scenario, settings):
    with app.app_context():
        mark_abandoned(settings, AFTER)


def test_a_shop_day_has_23_or_25_hours_when_the_clocks_change(ctx):
    start, end = day_bounds(SUN, SUN)
    assert end - start == timedelta(hours=25)
    start, end = day_bounds(date(2026, 3, 29), date(2026, 3, 29))
    assert end - start == timedelta(hours=23)
    start, end = day_bounds(SAT, SAT)
    assert (start.hour, end - start) == (22, timedelta(hours=24))  # midnight at UTC+2


def test_abandonment_time_is_last_activity_plus_the_first_delay_stored_once(app, scenario):
    with app.app_context():
        settings = AnalyticsSettings.from_config()
        assert mark_abandoned(settings, AFTER) == 6
        carts = {o.cart_id: o for o in db.session.scalars(select(IncompleteOrder)).all()}
        assert carts["cart-A1"].abandoned_at == carts["cart-A1"].last_activity_at + FIRST_DELAY
        assert carts["cart-D1"].abandoned_at is None  # bought within the first delay
        assert carts["cart-E1"].abandoned_at is None  # quiet for 20 minutes only
        stored = {k: o.abandoned_at for k, o in carts.items()}
        db.session.rollback()

        # A longer delay later does not move a day already counted, and a second run is a no-op.
        app.config["RECOVERY_DELAYS"] = [timedelta(hours=5), timedelta(hours=24)]
        app.config["RECOVERY_DELAYS_HOURS"] = [5, 24]
        assert mark_abandoned(AnalyticsSettings.from_config(), AFTER) == 0
        again = {o.cart_id: o.abandoned_at for o in db.session.scalars(select(IncompleteOrder))}
        assert again == stored


@pytest.mark.parametrize("day", [SAT, SUN, MON], ids=str)
def test_live_figures_of_each_shop_day(app, abandoned, settings, day):
    with app.app_context():
        figures = per_day(recovery_facts(SAT, MON, settings))
        expected = EXPECTED[day]
        assert {k: figures[day][k] for k in expected} == expected


def test_every_abandoned_cart_has_exactly_one_outcome(app, abandoned, settings):
    with app.app_context():
        for day, f in per_day(recovery_facts(SAT, MON, settings)).items():
            outcomes = (
                f["recovered"] + f["late"] + f["self_converted"] + f["lost"] + f["still_open"]
            )
            assert f["abandoned"] == outcomes, day


def test_a_cart_abandoned_at_23_30_shop_time_counts_on_that_day(app, abandoned, settings):
    with app.app_context():
        saturday = per_day(recovery_facts(SAT, SAT, settings))
        sunday = per_day(recovery_facts(SUN, SUN, settings))
    assert set(saturday) == {SAT} and saturday[SAT]["abandoned"] == 3  # A1 at 23:30
    assert set(sunday) == {SUN} and sunday[SUN]["abandoned"] == 2  # B1 at 00:30, B2 at 23:30


def test_steps(app, abandoned, settings):
    with app.app_context():
        rows = step_facts(SAT, MON, settings)
    steps = {}
    for row in rows:
        totals = steps.setdefault(row["step"], dict.fromkeys(EXPECTED_STEPS[1], 0))
        for name in totals:
            totals[name] += row[name]
    assert steps == EXPECTED_STEPS


def test_the_stage_filter_counts_only_that_stage(app, abandoned, settings):
    with app.app_context():
        breakdown = read_range("recovery", SAT, MON, settings, "cart", [], AFTER.date())
    assert breakdown.total["abandoned"] == 0


def test_the_day_and_the_hour_of_the_same_time_are_told_apart_every_time(app, abandoned, settings):
    from dashboard.analytics.queries import hour_facts

    with app.app_context():
        for _ in range(2):  # the second time, SQLAlchemy would serve cached SQL
            hours = {(r["day"], r["hour"]) for r in hour_facts(SAT, MON, settings)}
            days = set(per_day(recovery_facts(SAT, MON, settings)))
            assert days == {SAT, SUN, MON}
            assert (SAT, 23) in hours and (SUN, 0) in hours and (SUN, 23) in hours
