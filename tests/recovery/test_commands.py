"""The command line: send-recovery-emails and cleanup-incomplete-orders, with --dry-run."""

from datetime import timedelta

import pytest
from sqlalchemy import event, update

from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.incomplete_orders.models import (
    IncompleteOrder,
    IncompleteOrderItem,
    IncompleteOrderNote,
)
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.recovery.runner import run_recovery
from dashboard.timeutil import utcnow
from tests.factories import JOB, hours


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


# --- send-recovery-emails ---------------------------------------------------------------


def test_dry_run_prints_what_would_be_sent_and_changes_nothing(cli, shop, quiet_cart):
    due_a, _ = quiet_cart(hours_ago=2, email="a@example.com")
    due_b, _ = quiet_cart(hours_ago=3, email="b@example.com")
    quiet_cart(hours_ago=0.5, email="fresh@example.com")
    events_before = shop.count(AuditEvent)

    output = cli("send-recovery-emails", "--dry-run")
    assert f"would send step 1 to a@example.com (incomplete order {due_a})" in output
    assert f"would send step 1 to b@example.com (incomplete order {due_b})" in output
    assert "fresh@example.com" not in output
    assert "would_send: 2" in output
    assert shop.count(OutboxMessage) == shop.count(RecoveryAttempt) == 0
    assert shop.count(AuditEvent) == events_before
    assert {shop.cart(i).recovery_attempts for i in (due_a, due_b)} == {0}


def test_a_run_queues_and_delivers_and_prints_counts(cli, shop, quiet_cart, smtp_server):
    quiet_cart(hours_ago=2, email="a@example.com")
    quiet_cart(hours_ago=3, email="b@example.com")
    quiet_cart(hours_ago=0.5, email="fresh@example.com")

    output = cli("send-recovery-emails")
    assert output.strip() == "queued: 2, step_1: 2, sent: 2, retry: 0, failed: 0, withdrawn: 0"
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@example.com", "b@example.com"]
    assert {m.status for m in shop.outbox()} == {"sent"}

    assert cli("send-recovery-emails").strip() == (
        "queued: 0, sent: 0, retry: 0, failed: 0, withdrawn: 0"
    )
    assert len(smtp_server.messages) == 2


def test_hours_after_sets_the_first_delay(cli, shop, quiet_cart, smtp_server):
    two, _ = quiet_cart(hours_ago=2)
    six, _ = quiet_cart(hours_ago=6)
    output = cli("send-recovery-emails", "--hours-after", "5", "--dry-run")
    assert f"(incomplete order {six})" in output and f"(incomplete order {two})" not in output
    output = cli("send-recovery-emails", "--hours-after", "5")
    assert output.startswith("queued: 1, step_1: 1,")
    assert [a.step for a in shop.steps(six)] == [1] and shop.steps(two) == []
    output = cli("send-recovery-emails", "--hours-after", "1.5")
    assert output.startswith("queued: 1, step_1: 1,")
    assert [a.step for a in shop.steps(two)] == [1]


def test_max_attempts_caps_the_sequence(cli, shop, quiet_cart, smtp_server):
    cart_id, quiet = quiet_cart(hours_ago=30)
    shop.run(quiet + hours(1))  # step 1 went out 29 hours ago: step 2 is due now
    shop.deliver(quiet + hours(1))

    assert cli("send-recovery-emails", "--max-attempts", "1").startswith("queued: 0,")
    assert [a.step for a in shop.steps(cart_id)] == [1]
    assert cli("send-recovery-emails", "--max-attempts", "2").startswith("queued: 1, step_2: 1,")
    assert [a.step for a in shop.steps(cart_id)] == [1, 2]


def test_bad_options_are_refused(app):
    runner = app.test_cli_runner()
    for args in (["--max-attempts", "0"], ["--hours-after", "-1"], ["--hours-after", "soon"]):
        result = runner.invoke(args=["send-recovery-emails", *args])
        assert result.exit_code == 2, (args, result.output)


def test_a_dry_run_only_reads_so_sqlite_never_takes_its_write_lock(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            planned = run_recovery(JOB, now=quiet + hours(2), dry_run=True).planned
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert [order_id for order_id, _, _ in planned] == [cart_id]
    assert "BEGIN IMMEDIATE" not in statements
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert "BEGIN" in statements  # a reader's transaction


# --- cleanup-incomplete-orders ------------------------------------------------------------


@pytest.fixture
def old_and_new_carts(app, shop, quiet_cart):
    """Carts of every kind, some past the clean-up limits: {name: id}."""
    carts = {
        "stale_open": quiet_cart(hours_ago=24 * 40)[0],  # EXPIRE_AFTER_DAYS is 30
        "recent_open": quiet_cart(hours_ago=24 * 5)[0],
        "old_expired": quiet_cart(hours_ago=24 * 400, status="expired")[0],
        "old_cancelled": quiet_cart(hours_ago=24 * 400, status="cancelled")[0],
        "recent_expired": quiet_cart(hours_ago=24 * 400, status="expired")[0],
        "old_converted": quiet_cart(hours_ago=24 * 400, status="converted")[0],
    }
    long_ago = utcnow() - timedelta(days=200)  # RETENTION_DAYS is 180
    with app.app_context():
        db.session.execute(
            update(IncompleteOrder)
            .where(
                IncompleteOrder.id.in_(
                    [carts[k] for k in ("old_expired", "old_cancelled", "old_converted")]
                )
            )
            .values(status_changed_at=long_ago)
        )
        db.session.add(IncompleteOrderNote(incomplete_order_id=carts["old_expired"], body="x"))
        db.session.add(RecoveryAttempt(incomplete_order_id=carts["old_expired"], step=1))
        db.session.add(RecoveryAttempt(incomplete_order_id=carts["old_converted"], step=1))
        db.session.commit()
    return carts


def test_cleanup_dry_run_prints_counts_and_changes_nothing(cli, shop, old_and_new_carts):
    before = {name: shop.cart(i).status for name, i in old_and_new_carts.items()}
    output = cli("cleanup-incomplete-orders", "--dry-run")
    assert output.strip() == (
        "Would expire 1 stale open incomplete orders; "
        "would delete 2 expired or cancelled ones past retention."
    )
    assert {name: shop.cart(i).status for name, i in old_and_new_carts.items()} == before
    assert shop.count(RecoveryAttempt) == 2

    output = cli("cleanup-incomplete-orders", "--days", "3", "--dry-run")
    assert output.startswith("Would expire 2 stale open incomplete orders;")
    assert shop.cart(old_and_new_carts["recent_open"]).status == "open"


def test_cleanup_expires_stale_carts_and_deletes_old_closed_ones(cli, shop, old_and_new_carts):
    carts = old_and_new_carts
    output = cli("cleanup-incomplete-orders")
    assert output.strip() == (
        "expire 1 stale open incomplete orders; delete 2 expired or cancelled ones past retention."
    )
    assert shop.cart(carts["stale_open"]).status == "expired"
    assert shop.cart(carts["recent_open"]).status == "open"
    assert shop.cart(carts["recent_expired"]).status == "expired"
    assert shop.cart(carts["old_expired"]) is None and shop.cart(carts["old_cancelled"]) is None
    assert shop.cart(carts["old_converted"]).status == "converted"  # its order points at it
    # Deleted with their items, notes and recovery attempts.
    assert shop.steps(carts["old_expired"]) == []
    assert [a.step for a in shop.steps(carts["old_converted"])] == [1]
    assert shop.count(IncompleteOrderNote) == 0
    kept = {i for name, i in carts.items() if not name.startswith(("old_expired", "old_canc"))}
    assert {item.incomplete_order_id for item in shop.rows(IncompleteOrderItem)} == kept
    (expired,) = shop.events("incomplete_order.bulk_expire")
    assert expired.actor_label == "cleanup" and expired.details["count"] == 1
    (purged,) = shop.events("incomplete_order.purge")
    assert purged.details["count"] == 2

    output = cli("cleanup-incomplete-orders", "--days", "3")
    assert output.startswith("expire 1 stale open")
    assert shop.cart(carts["recent_open"]).status == "expired"
