"""The rollups: what a run stores equals the live count for every closed day, an hourly run
recomputes only the days that can still change, and frozen days keep their figures after the
clean-up deletes their carts."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.analytics.days import days_between
from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.analytics.models import RecoveryDay, RecoveryMonth, RolledDay, StepDay
from dashboard.analytics.queries import (
    RECOVERY_COUNTS,
    RECOVERY_MONEY,
    STEP_COUNTS,
    read_range,
    recovery_facts,
)
from dashboard.analytics.rollup import mark_abandoned, update_analytics
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.cleanup import cleanup
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.jobs.registry import registered_jobs
from tests.analytics.conftest import AFTER, EXPECTED, EXPECTED_STEPS, MON, SAT, SUN

ONE = timedelta(days=1)


def stored(day):
    row = (
        db.session.execute(
            select(
                *(
                    func.sum(getattr(RecoveryDay, n)).label(n)
                    for n in RECOVERY_COUNTS + RECOVERY_MONEY
                )
            ).where(RecoveryDay.day == day)
        )
        .mappings()
        .one()
    )
    return {k: v or 0 for k, v in row.items()}


def live(settings, day):
    totals = dict.fromkeys(RECOVERY_COUNTS + RECOVERY_MONEY, 0)
    for row in recovery_facts(day, day, settings):
        for name in totals:
            totals[name] += row[name]
    return totals


@pytest.fixture
def rolled_up(app, scenario):
    with app.app_context():
        return update_analytics(now=AFTER)


def test_a_run_stores_every_closed_day_as_the_live_count_gives_it(app, rolled_up):
    assert rolled_up.abandoned == 6
    assert rolled_up.days[0] == SAT and rolled_up.days[-1] == AFTER.date() - timedelta(days=1)
    with app.app_context():
        settings = AnalyticsSettings.from_config()
        for day in rolled_up.days:
            assert stored(day) == live(settings, day), day
        for day, expected in EXPECTED.items():
            assert {k: stored(day)[k] for k in expected} == expected
        steps = {
            step: dict(zip(STEP_COUNTS, counts, strict=True))
            for step, *counts in db.session.execute(
                select(
                    StepDay.step, *(func.sum(getattr(StepDay, n)) for n in STEP_COUNTS)
                ).group_by(StepDay.step)
            )
        }
    assert steps == {s: {k: v[k] for k in STEP_COUNTS} for s, v in EXPECTED_STEPS.items()}


def test_the_page_reads_the_same_from_rollups_and_live(app, scenario):
    with app.app_context():
        settings = AnalyticsSettings.from_config()
        today = AFTER.date()
        mark_abandoned(settings, AFTER)  # the live count reads stored abandonment times
        before = read_range("recovery", SAT, MON, settings, None, [("day",)], today)
        update_analytics(now=AFTER)
        after = read_range("recovery", SAT, MON, settings, None, [("day",)], today)
    assert dict(before.total.counts) == dict(after.total.counts)
    assert before.total.counts["abandoned"] == 6
    assert {k: dict(v.counts) for k, v in before.by[("day",)].items()} == {
        k: dict(v.counts) for k, v in after.by[("day",)].items()
    }


def test_an_hourly_run_recomputes_only_the_days_that_can_still_change(app, rolled_up):
    with app.app_context():
        settings = AnalyticsSettings.from_config()
        again = update_analytics(now=AFTER + timedelta(hours=1))
    assert again.abandoned == 1  # the cart quiet for 20 minutes before, now abandoned
    # 27 closed days since the first abandoned cart, all within the 31 that can change.
    assert settings.changing_days == 31
    assert again.days == days_between(SAT, AFTER.date() - timedelta(days=1))

    with app.app_context():
        # Forty days on: the days no run stored yet, then an hour later only the last 31.
        later = AFTER + timedelta(days=40)
        assert update_analytics(now=later).days == days_between(AFTER.date(), later.date() - ONE)
        hourly = update_analytics(now=later + timedelta(hours=1))
    assert hourly.days == days_between(later.date() - timedelta(days=31), later.date() - ONE)


def test_a_dry_run_changes_nothing(app, scenario):
    with app.app_context():
        result = update_analytics(now=AFTER, dry_run=True)
        assert result.abandoned == 6 and result.days == []  # nothing abandoned is stored yet
        assert db.session.scalar(select(func.count()).select_from(RolledDay)) == 0
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(IncompleteOrder)
                .where(IncompleteOrder.abandoned_at.is_not(None))
            )
            == 0
        )


def test_clean_up_does_not_change_the_figures_of_frozen_days(app, rolled_up):
    later = AFTER + timedelta(days=200)
    with app.app_context():
        assert cleanup(Actor.system("test"), now=later).deleted == 1  # B1, expired and lost
        result = update_analytics(now=later)
        assert SUN not in result.days  # frozen: older than RETENTION_DAYS and stored
        assert stored(SUN)["abandoned"] == 2 and stored(SUN)["lost"] == 1

        since = update_analytics(since=SAT, now=later)
        assert {SAT, SUN, MON} <= set(since.kept)
        assert stored(SUN)["lost"] == 1


def test_the_job_is_registered_with_the_scheduler(app):
    job = registered_jobs(app)["analytics"]
    assert job.schedule(app.config) == "hourly, and at 04:15 shop time after the clean-up"


def test_the_command_says_what_it_did_and_what_a_dry_run_would_do(app, scenario):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["update-analytics", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would store the abandonment time of 7 carts." in dry.output
    done = runner.invoke(args=["update-analytics"])
    assert done.exit_code == 0, done.output
    assert "Stored the abandonment time of 7 carts." in done.output
    assert "Recomputed" in done.output and "(2026-10-24 to " in done.output
    wrong = runner.invoke(args=["update-analytics", "--since", "24.10.2026"])
    assert wrong.exit_code == 2 and "YYYY-MM-DD" not in wrong.output or "%Y-%m-%d" in wrong.output


def test_the_jobs_page_lists_the_job_and_its_run_now_step_says_what_it_would_do(
    client, login, rolled_up
):
    login("manager")
    assert "Analytics rollups" in client.get("/jobs/").text
    confirm = client.get("/jobs/analytics/run")
    assert confirm.status_code == 200
    assert "would store the abandonment time of newly abandoned carts and recompute" in confirm.text


@pytest.mark.parametrize(
    ("kind", "groupings"),
    [
        ("recovery", [("stage",), ("value_band",), ("customer",)]),
        ("steps", [("step",)]),
        ("skus", [("sku",)]),
        ("hours", [("weekday", "hour")]),
    ],
)
def test_a_range_of_whole_months_reads_the_month_rollup_as_the_days_add_up(
    app, scenario, kind, groupings
):
    # 20 September to 5 November: October is read from the month table, the days around it
    # from the day table; the same range counted live (nothing stored yet) is the reference.
    first, last = SAT - timedelta(days=34), MON + timedelta(days=10)
    with app.app_context():
        settings = AnalyticsSettings.from_config()
        today = AFTER.date() + timedelta(days=30)
        mark_abandoned(settings, AFTER)
        before = read_range(kind, first, last, settings, None, groupings, today)
        update_analytics(now=AFTER + timedelta(days=30))
        assert db.session.scalar(select(func.count()).select_from(RecoveryMonth)) > 0
        after = read_range(kind, first, last, settings, None, groupings, today)
    assert dict(after.total.counts) == dict(before.total.counts)
    assert any(after.total.counts.values())
    assert {n: dict(m) for n, m in after.total.money.items()} == {
        n: dict(m) for n, m in before.total.money.items()
    }
    for grouping in groupings:
        assert {k: dict(v.counts) for k, v in after.by[grouping].items()} == {
            k: dict(v.counts) for k, v in before.by[grouping].items()
        }, grouping
