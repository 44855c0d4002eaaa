"""PUT and GET /api/v1/incomplete-orders/<cart_id>: snapshots create and update a cart,
idempotently and in order, never reopen a finished one, and are audited as the key."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import selectinload

from dashboard.api_keys.service import authenticate
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderItem
from dashboard.orders.service import convert_to_order
from tests.factories import KEY_NAME, at, items
from tests.helpers import audit_events, row_count


def _cart(app, cart_id):
    with app.app_context():
        order = db.session.scalar(
            select(IncompleteOrder)
            .where(IncompleteOrder.cart_id == cart_id)
            .options(selectinload(IncompleteOrder.items))
        )
        if order is not None:
            db.session.expunge(order)  # with its items, loaded eagerly
        return order


def _lines(order):
    return [(i.sku, i.quantity, i.unit_price) for i in order.items]


def test_a_new_cart_is_created_with_totals_computed_from_its_items(app, api):
    response = api.put_cart(
        "cart-1",
        customer_id="cust-42",
        guest_session=...,
        email="Ada@Example.COM",
        items=items(("SKU-1", 3, 1999), ("SKU-2", 1, 500)),
    )

    assert response.status_code == 201
    assert response.json["outcome"] == "created"
    held = response.json["incomplete_order"]
    assert held["cart_id"] == "cart-1"
    assert (held["status"], held["stage"], held["currency"]) == ("open", "checkout", "EUR")
    assert (held["subtotal"], held["item_count"]) == (3 * 1999 + 500, 4)
    assert (held["customer_id"], held["guest_session"]) == ("cust-42", None)
    assert held["email"] == "ada@example.com"
    assert [i["sku"] for i in held["items"]] == ["SKU-1", "SKU-2"]
    assert held["order_number"] is None

    cart = _cart(app, "cart-1")
    assert (cart.subtotal, cart.item_count, cart.email) == (6497, 4, "ada@example.com")
    assert _lines(cart) == [("SKU-1", 3, 1999), ("SKU-2", 1, 500)]


def test_a_guest_cart_is_kept_under_its_session_key(app, api):
    response = api.put_cart("guest-cart", guest_session="sess-abc", email=..., phone=..., name=...)
    assert response.status_code == 201
    held = response.json["incomplete_order"]
    assert (held["customer_id"], held["guest_session"], held["email"]) == (None, "sess-abc", None)


def test_a_subtotal_from_the_caller_is_refused_not_trusted(app, api):
    response = api.put_cart("cart-1", subtotal=1)
    assert response.status_code == 422
    assert "subtotal" in response.json["error"]["fields"]
    assert row_count(app, IncompleteOrder) == 0


def test_creating_a_cart_is_audited_as_done_by_the_key(app, api):
    api.put_cart("cart-1")
    [event] = audit_events(app, "incomplete_order.create")
    assert (event.actor_type, event.actor_label) == ("api_key", KEY_NAME)
    assert event.record_id == _cart(app, "cart-1").id
    assert event.details == {"items": 3, "subtotal": 6000}


def test_the_same_snapshot_twice_changes_nothing_the_second_time(app, api):
    body_at = at(30)
    first = api.put_cart("cart-1", snapshot_at=body_at)
    before = _cart(app, "cart-1")
    events_before = len(audit_events(app))

    again = api.put_cart("cart-1", snapshot_at=body_at)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["outcome"] == "unchanged"
    assert again.json["incomplete_order"] == first.json["incomplete_order"]
    after = _cart(app, "cart-1")
    assert (after.updated_at, after.last_activity_at) == (
        before.updated_at,
        before.last_activity_at,
    )
    assert row_count(app, IncompleteOrderItem) == 2  # items are not rewritten
    assert len(audit_events(app)) == events_before


def test_the_same_content_later_only_moves_the_last_activity(app, api):
    api.put_cart("cart-1", snapshot_at=at(30))
    events_before = len(audit_events(app))

    later = api.put_cart("cart-1", snapshot_at=at(10))

    assert later.json["outcome"] == "unchanged"
    cart = _cart(app, "cart-1")
    assert abs(cart.last_activity_at - _naive_utc(10)) < timedelta(seconds=5)
    assert len(audit_events(app)) == events_before  # a heartbeat is not an audited change


def _naive_utc(minutes_ago):
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(tzinfo=None)


def test_a_newer_snapshot_updates_the_cart_and_is_audited(app, api):
    api.put_cart("cart-1", snapshot_at=at(30))

    response = api.put_cart(
        "cart-1", snapshot_at=at(10), stage="payment_failed", items=items(("SKU-9", 1, 12000))
    )

    assert response.status_code == 200
    assert response.json["outcome"] == "updated"
    assert response.json["incomplete_order"]["subtotal"] == 12000
    cart = _cart(app, "cart-1")
    assert (cart.stage, cart.subtotal, _lines(cart)) == (
        "payment_failed",
        12000,
        [("SKU-9", 1, 12000)],
    )
    [event] = audit_events(app, "incomplete_order.update")
    assert (event.actor_type, event.actor_label, event.record_id) == ("api_key", KEY_NAME, cart.id)
    assert event.details == {"items": 1, "subtotal": 12000, "stage": "payment_failed"}


def test_an_older_snapshot_arriving_late_does_not_overwrite_a_newer_one(app, api):
    api.put_cart("cart-1", snapshot_at=at(10), items=items(("NEW", 1, 700)))
    events_before = len(audit_events(app))

    late = api.put_cart("cart-1", snapshot_at=at(30), items=items(("OLD", 5, 100)))

    assert late.status_code == 200
    assert late.json["outcome"] == "stale"
    assert late.json["incomplete_order"]["items"][0]["sku"] == "NEW"
    assert _lines(_cart(app, "cart-1")) == [("NEW", 1, 700)]
    assert len(audit_events(app)) == events_before


def test_snapshot_times_are_compared_across_time_zones(app, api):
    newer = datetime.now(UTC) - timedelta(minutes=10)
    older_in_another_zone = (newer - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=5)))
    api.put_cart("cart-1", snapshot_at=newer.isoformat(), items=items(("NEW", 1, 700)))

    late = api.put_cart(
        "cart-1", snapshot_at=older_in_another_zone.isoformat(), items=items(("OLD", 1, 1))
    )

    assert late.json["outcome"] == "stale"
    assert _lines(_cart(app, "cart-1")) == [("NEW", 1, 700)]


def test_an_emptied_cart_is_closed_not_kept_as_a_zero_value_lead(app, api):
    api.put_cart("cart-1", snapshot_at=at(30))

    response = api.put_cart("cart-1", snapshot_at=at(10), items=[])

    assert response.status_code == 200
    assert response.json["outcome"] == "closed"
    assert response.json["incomplete_order"]["status"] == "cancelled"
    cart = _cart(app, "cart-1")
    assert cart.status == "cancelled"
    assert cart.subtotal == 6000  # what the customer had in it, for the record
    [event] = audit_events(app, "incomplete_order.close_emptied")
    assert (event.actor_type, event.actor_label, event.record_id) == ("api_key", KEY_NAME, cart.id)


def test_an_empty_cart_never_seen_before_is_not_recorded(app, api):
    response = api.put_cart("cart-1", items=[])
    assert response.status_code == 200
    assert response.json["outcome"] == "ignored"
    assert response.json["incomplete_order"] is None
    assert row_count(app, IncompleteOrder) == 0
    assert audit_events(app, "incomplete_order.create") == []


@pytest.mark.parametrize("status", ["converted", "cancelled"])
def test_a_snapshot_does_not_reopen_a_converted_or_cancelled_cart_and_says_so(
    app, api, make_incomplete_order, status
):
    order_id = make_incomplete_order(status=status, cart_id="cart-1")
    events_before = len(audit_events(app))

    response = api.put_cart("cart-1", snapshot_at=at(1), items=items(("MORE", 4, 100)))

    assert response.status_code == 200
    assert response.json["outcome"] == "ignored"
    assert response.json["message"] == f"The cart is {status}; a snapshot does not reopen it."
    assert response.json["incomplete_order"]["status"] == status
    cart = _cart(app, "cart-1")
    assert (cart.id, cart.status) == (order_id, status)
    assert "MORE" not in [sku for sku, _, _ in _lines(cart)]
    assert len(audit_events(app)) == events_before


def test_a_snapshot_after_staff_converted_the_cart_names_the_order(app, api, make_incomplete_order):
    order_id = make_incomplete_order(cart_id="cart-1")
    with app.app_context():
        order = convert_to_order(db.session.get(IncompleteOrder, order_id), Actor.system("test"))
        db.session.commit()
        number = order.number

    response = api.put_cart("cart-1", snapshot_at=at(1))

    assert response.json["outcome"] == "ignored"
    assert response.json["incomplete_order"]["order_number"] == number


def test_new_activity_on_an_expired_cart_makes_it_open_again(app, api, make_incomplete_order):
    make_incomplete_order(status="expired", cart_id="cart-1")

    response = api.put_cart("cart-1", snapshot_at=at(1), items=items(("BACK", 1, 4200)))

    assert response.json["outcome"] == "updated"
    assert response.json["incomplete_order"]["status"] == "open"
    assert _cart(app, "cart-1").status == "open"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"snapshot_at": "2026-01-01T10:00:00"}, "snapshot_at", "timezone"),
        ({"snapshot_at": ...}, "snapshot_at", "Field required"),
        ({"snapshot_at": "0001-01-01T00:00:00+00:01"}, "snapshot_at", "out of range"),
        ({"snapshot_at": "1970-01-01T00:00:00Z"}, "snapshot_at", "before 2000-01-01"),
        ({"snapshot_at": 1}, "snapshot_at", "ISO 8601 date and time string"),
        ({"currency": "euro"}, "currency", "pattern"),
        ({"stage": "shipped"}, "stage", "'cart', 'checkout', 'payment_pending'"),
        ({"email": "not-an-email"}, "email", "email"),
        ({"items": items(("SKU-1", 0, 100))}, "items.0.quantity", "greater than or equal to 1"),
        ({"items": items(("SKU-1", 1, -5))}, "items.0.unit_price", "greater than or equal to 0"),
        ({"guest_session": ..., "customer_id": ...}, "body", "give customer_id"),
        (
            {"snapshot_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat()},
            "snapshot_at",
            "more than an hour in the future",
        ),
    ],
)
def test_an_invalid_snapshot_is_refused_field_by_field(app, api, overrides, field, message):
    response = api.put_cart("cart-1", **overrides)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert message in error["fields"][field]
    assert row_count(app, IncompleteOrder) == 0
    assert audit_events(app, "incomplete_order.create") == []


@pytest.mark.parametrize(
    "cart_id", ["c" * 65, "cart%00one", "cart/one"], ids=["too-long", "nul", "slash"]
)
def test_a_cart_id_no_cart_can_have_is_refused(app, api, cart_id):
    response = api.put_cart(cart_id)
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "cart_id": "at most 64 characters, without '/' or NUL (\\u0000)"
    }
    assert row_count(app, IncompleteOrder) == 0
    assert api.get(f"/incomplete-orders/{cart_id}").status_code == 404


def test_get_returns_the_cart_as_reclaim_holds_it(app, api):
    api.put_cart("cart-1", snapshot_at=at(30))
    api.put_cart("cart-1", snapshot_at=at(10), items=items(("SKU-3", 2, 150)))
    api.put_cart("cart-1", snapshot_at=at(20), items=items(("STALE", 1, 1)))

    response = api.get("/incomplete-orders/cart-1")

    assert response.status_code == 200
    held = response.json
    assert (held["cart_id"], held["status"], held["subtotal"]) == ("cart-1", "open", 300)
    assert held["items"] == [
        {"sku": "SKU-3", "name": "Product SKU-3", "quantity": 2, "unit_price": 150}
    ]
    # Times come back in UTC, with the zone.
    last_activity = datetime.fromisoformat(held["last_activity_at"])
    assert last_activity.utcoffset() == timedelta(0)
    assert abs(last_activity - (datetime.now(UTC) - timedelta(minutes=10))) < timedelta(seconds=5)


def test_get_of_an_unknown_cart_is_404(api):
    response = api.get("/incomplete-orders/no-such-cart")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "no-such-cart" in response.json["error"]["message"]


def test_a_cart_snapshot_commits_without_waiting_for_the_disk_and_an_order_waits(
    app, api, statements
):
    # A snapshot is superseded by the cart's next one, an order is not: on PostgreSQL only
    # the snapshot's transaction turns synchronous_commit off (SQLite has no such setting).
    with statements() as snapshot_sql:
        snapshot = api.put_cart("cart-fast")
    with statements() as order_sql:
        order = api.post_order(number="R-FAST")
    assert (snapshot.status_code, order.status_code) == (201, 201)
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        assert len([s for s in snapshot_sql if "set_config" in s]) == (1 if postgres else 0)
        assert not [s for s in order_sql if "set_config" in s]

        assert authenticate(api.key, durable=False) is not None
        if postgres:
            assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "off"
            db.session.rollback()  # it held for that transaction only
            assert authenticate(api.key) is not None
            assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"
        db.session.rollback()
