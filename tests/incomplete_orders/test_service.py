"""apply_snapshot, change_status and bulk_change_status: the rules behind every change."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select, text

from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.service import (
    IncompleteOrderError,
    ItemSnapshot,
    apply_snapshot,
    bulk_change_status,
    change_status,
)
from dashboard.timeutil import utcnow
from tests.factories import snapshot

STOREFRONT = Actor.system("storefront")


def _event_count():
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _items(order):
    return [(i.sku, i.name, i.quantity, i.unit_price) for i in order.items]


def _later(first, **changes):
    """A snapshot of the same cart, one hour after `first` unless `changes` say otherwise."""
    return replace(first, **{"snapshot_at": first.snapshot_at + timedelta(hours=1), **changes})


def test_first_snapshot_creates_the_incomplete_order(ctx):
    order, outcome = apply_snapshot(snapshot(email=" Ana@Example.COM "), STOREFRONT)
    db.session.commit()
    assert outcome == "created"
    assert order.status == "open" and order.email == "ana@example.com"
    assert (order.subtotal, order.item_count) == (6000, 3)
    assert db.session.scalar(select(AuditEvent.action)) == "incomplete_order.create"


def test_same_snapshot_again_changes_nothing(ctx):
    first = snapshot()
    apply_snapshot(first, STOREFRONT)
    db.session.commit()
    events = _event_count()
    _, outcome = apply_snapshot(first, STOREFRONT)
    assert outcome == "unchanged"
    assert _event_count() == events


def test_newer_snapshot_replaces_items_and_recomputes_totals(ctx):
    first = snapshot()
    order, _ = apply_snapshot(first, STOREFRONT)
    db.session.commit()
    newer = _later(
        first,
        stage="payment_pending",
        items=[ItemSnapshot("SKU-9", "Rain jacket", 3, 1000), ItemSnapshot("SKU-8", "Cap", 1, 250)],
    )
    order, outcome = apply_snapshot(newer, STOREFRONT)
    db.session.commit()
    assert outcome == "updated"
    assert _items(order) == [("SKU-9", "Rain jacket", 3, 1000), ("SKU-8", "Cap", 1, 250)]
    assert (order.subtotal, order.item_count) == (3250, 4)
    assert order.stage == "payment_pending"
    assert order.last_activity_at == newer.snapshot_at


def test_older_snapshot_is_stale_and_ignored(ctx):
    first = snapshot()
    order, _ = apply_snapshot(first, STOREFRONT)
    db.session.commit()
    older = _later(
        first,
        snapshot_at=first.snapshot_at - timedelta(minutes=5),
        items=[ItemSnapshot("SKU-9", "Rain jacket", 1, 9900)],
    )
    order, outcome = apply_snapshot(older, STOREFRONT)
    db.session.commit()
    assert outcome == "stale"
    assert _items(order) == [("SKU-1", "Linen shirt", 2, 2500), ("SKU-2", "Belt", 1, 1000)]
    assert order.subtotal == 6000 and order.last_activity_at == first.snapshot_at


@pytest.mark.parametrize("status", ["converted", "cancelled"])
def test_snapshot_for_a_finished_cart_is_final(ctx, make_incomplete_order, status):
    order_id = make_incomplete_order(status=status, cart_id="cart-final")
    newer = snapshot(
        cart_id="cart-final", snapshot_at=utcnow(), items=[ItemSnapshot("SKU-9", "Hat", 1, 9900)]
    )
    order, outcome = apply_snapshot(newer, STOREFRONT)
    db.session.commit()
    assert outcome == "final"
    assert order.id == order_id and order.status == status
    assert order.subtotal == 6000


def test_emptied_cart_is_closed_as_cancelled(ctx):
    first = snapshot()
    order, _ = apply_snapshot(first, STOREFRONT)
    db.session.commit()
    order, outcome = apply_snapshot(_later(first, items=[]), STOREFRONT)
    db.session.commit()
    assert outcome == "closed"
    assert order.status == "cancelled"
    assert (
        db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1))
        == "incomplete_order.close_emptied"
    )


def test_new_activity_reopens_an_expired_cart(ctx):
    first = snapshot()
    order, _ = apply_snapshot(first, STOREFRONT)
    order.status = "expired"
    db.session.commit()
    order, outcome = apply_snapshot(_later(first, stage="payment_failed"), STOREFRONT)
    assert outcome == "updated" and order.status == "open"


def test_a_snapshot_works_on_what_the_database_holds_not_on_an_object_held_before(ctx):
    first = snapshot()
    order, _ = apply_snapshot(first, STOREFRONT)
    db.session.commit()
    assert order.status == "open"  # loaded: the session holds the cart as open
    # Expired by a set-based update, which does not touch the objects a session holds.
    bulk_change_status("expire", IncompleteOrder.id == order.id, STOREFRONT, {})
    db.session.commit()
    held = db.session.get(IncompleteOrder, order.id)
    db.session.execute(text("UPDATE incomplete_orders SET status = 'cancelled'"))
    assert held.status == "expired"  # what the session read, no longer what the row says

    again, outcome = apply_snapshot(_later(first, stage="payment_failed"), STOREFRONT)
    db.session.commit()
    assert again is held
    assert outcome == "final" and again.status == "cancelled"
    assert db.session.scalar(select(IncompleteOrder.stage)) == first.stage  # not applied


def test_bulk_change_writes_one_audit_event_naming_each_changed_order(ctx, make_incomplete_order):
    open_ids = [make_incomplete_order(), make_incomplete_order()]
    cancelled_id = make_incomplete_order(status="cancelled")
    events = _event_count()
    changed = bulk_change_status(
        "expire",
        IncompleteOrder.id.in_([*open_ids, cancelled_id]),
        Actor.system("test"),
        {"ids": 3},
    )
    db.session.commit()
    assert changed == 2
    assert _event_count() == events + 1
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.action == "incomplete_order.bulk_expire" and event.target_count == 2
    targets = db.session.scalars(
        select(AuditEventTarget.record_id).where(AuditEventTarget.event_id == event.id)
    ).all()
    assert sorted(targets) == sorted(open_ids)
    statuses = {o.id: o.status for o in db.session.scalars(select(IncompleteOrder))}
    assert statuses == {open_ids[0]: "expired", open_ids[1]: "expired", cancelled_id: "cancelled"}


def test_on_postgresql_a_bulk_status_change_rewrites_no_index(ctx, make_incomplete_order):
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite rewrites only the indexes holding a changed column")
    # Earlier tests' deleted rows still fill pages until a vacuum, as autovacuum would run.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM incomplete_orders"))
    ids = [make_incomplete_order() for _ in range(20)]
    hot = text(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
        "WHERE relname = 'incomplete_orders'"
    )
    before = db.session.execute(hot).one()
    changed = bulk_change_status(
        "expire", IncompleteOrder.id.in_(ids), Actor.system("test"), {"ids": 20}
    )
    after = db.session.execute(hot).one()
    assert changed == 20
    assert after.n_tup_upd - before.n_tup_upd == 20
    # A row's new version stays on its page and no index gets an entry (a HOT update)
    # when the page has room: the table keeps 30% of each page free, and no index
    # holds the status. A row at the end of a full page still moves.
    assert after.n_tup_hot_upd - before.n_tup_hot_upd >= 18
    indexed_status = text(
        "SELECT count(*) FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'incomplete_orders'::regclass AND a.attname = 'status'"
    )
    assert db.session.scalar(indexed_status) == 0
    options = text("SELECT reloptions FROM pg_class WHERE relname = 'incomplete_orders'")
    assert db.session.scalar(options) == ["fillfactor=70"]


def test_a_bulk_changes_targets_cost_one_index_entry_each_and_are_found_by_cart(
    ctx, make_incomplete_order
):
    ids = [make_incomplete_order() for _ in range(3)]
    bulk_change_status("expire", IncompleteOrder.id.in_(ids), Actor.system("test"), {"ids": 3})
    db.session.commit()
    schema = inspect(db.engine)
    key = schema.get_pk_constraint("audit_event_targets")["constrained_columns"]
    assert key == ["record_type", "record_id", "event_id"]
    assert schema.get_indexes("audit_event_targets") == []  # the key is the only index
    # No foreign key to check row by row on a 10,000-cart change.
    assert schema.get_foreign_keys("audit_event_targets") == []
    # A cart's timeline finds its bulk events by that key.
    for order_id in ids:
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEventTarget)
                .where(
                    AuditEventTarget.record_type == "incomplete_order",
                    AuditEventTarget.record_id == order_id,
                )
            )
            == 1
        )


def test_bulk_change_refuses_an_unknown_action(ctx):
    with pytest.raises(IncompleteOrderError, match="Bulk action must be one of"):
        bulk_change_status("reopen", IncompleteOrder.id > 0, Actor.system("test"), {})


def test_refused_transition_raises_with_the_reason(ctx, make_incomplete_order):
    order = db.session.get(IncompleteOrder, make_incomplete_order())
    events = _event_count()
    with pytest.raises(IncompleteOrderError, match="is open, so it cannot be reopened"):
        change_status(order, "reopen", Actor.system("test"))
    assert order.status == "open"
    assert _event_count() == events


def test_allowed_transition_changes_status_and_is_audited(ctx, make_incomplete_order):
    order = db.session.get(IncompleteOrder, make_incomplete_order())
    change_status(order, "expire", Actor.system("test"), reason="duplicate cart")
    db.session.commit()
    assert order.status == "expired" and order.status_changed_at is not None
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.action == "incomplete_order.expire"
    assert event.details == {"before": "open", "after": "expired", "reason": "duplicate cart"}
