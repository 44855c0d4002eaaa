"""The warning managers see when email is not going out: no scheduler, failures, backlog."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.outbox.health import recent_failures
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.timeutil import utcnow


def add_email(app, key, status="queued", minutes_ago=0, error=None):
    when = utcnow() - timedelta(minutes=minutes_ago)
    with app.app_context():
        row = outbox_row(
            "order_confirmation", key, "a@example.com", "Hi", "Hi", "<p>Hi</p>", now=when
        )
        row.update(status=status, last_error=error)
        insert_ignoring_duplicates([row])
        db.session.commit()


def test_no_process_running_the_jobs_is_said_on_the_overview_and_the_outbox(
    app, client, login, monkeypatch
):
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    login("manager")
    for path in ("/", "/outbox/"):
        page = client.get(path).text
        assert "No process is running the scheduled jobs" in page, path
        assert 'role="alert"' in page

    with app.app_context():
        assert lease.try_acquire("web-1:1:abc", 60)
    assert "No process is running the scheduled jobs" not in client.get("/").text


def test_failures_and_a_backlog_are_counted_with_what_to_do(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    with app.app_context():
        assert lease.try_acquire("web-1:1:abc", 60)
    add_email(app, "f1", status="failed", minutes_ago=5, error="550 mailbox unavailable")
    add_email(app, "f2", status="failed", minutes_ago=90, error="too old to count")
    add_email(app, "q1", minutes_ago=30)
    add_email(app, "q2", minutes_ago=1)  # just queued: no backlog yet
    login("agent")

    page = client.get("/outbox/").text
    assert "1 email failed in the last hour (for example: 550 mailbox unavailable)." in page
    assert "Check the mail server settings" in page
    assert "1 email has waited more than 10 minutes to go out." in page


def test_nothing_is_shown_when_email_goes_out(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    with app.app_context():
        assert lease.try_acquire("web-1:1:abc", 60)
    add_email(app, "s1", status="sent", minutes_ago=30)
    login("viewer")
    page = client.get("/").text
    assert 'class="alert alert-' not in page


def test_the_failure_count_reads_an_index_not_every_email_ever_sent(app):
    """The outbox keeps every email: the count of the last hour's failures, on every outbox
    and overview page, must not read them all (SQLite's planner scanned the table)."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only: PostgreSQL's statistics say how rare failures are")
        rows = []
        for n in range(2_000):
            row = outbox_row(
                "order_confirmation",
                f"old:{n}",
                "a@example.com",
                "Hi",
                "Hi",
                "<p>Hi</p>",
                now=utcnow() - timedelta(days=n % 300),
            )
            row.update(status="sent")
            rows.append(row)
        insert_ignoring_duplicates(rows)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        statement = recent_failures(utcnow()).compile(
            db.engine, compile_kwargs={"literal_binds": True}
        )
        plan = " ".join(
            row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {statement}"))
        )
    assert "USING INDEX ix_outbox_messages_status_created" in plan, plan
