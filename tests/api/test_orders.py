"""POST /api/v1/orders: completed orders are recorded once, convert their cart through the
same exactly-once path staff use, and are audited as the key."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.orders.service import convert_to_order
from tests.factories import KEY_NAME, items, order_body
from tests.helpers import audit_events, row_count


def _order(app, number):
    with app.app_context():
        order = db.session.scalar(
            select(Order).where(Order.number == number).options(selectinload(Order.items))
        )
        if order is not None:
            db.session.expunge(order)  # with its items
        return order


def _cart_status(app, cart_id):
    with app.app_context():
        return db.session.scalar(
            select(IncompleteOrder.status).where(IncompleteOrder.cart_id == cart_id)
        )


def _staff_convert(app, cart_id):
    with app.app_context():
        cart = db.session.scalar(select(IncompleteOrder).where(IncompleteOrder.cart_id == cart_id))
        order = convert_to_order(cart, Actor.system("test"))
        db.session.commit()
        return order.number


def test_a_completed_order_is_recorded_as_reported(app, api):
    response = api.post_order(number="SHOP-1", total=6490, email="Ada@Example.com")

    assert response.status_code == 201
    body = response.json
    assert (body["outcome"], body["converted_cart"]) == ("created", False)
    assert body["order"]["number"] == "SHOP-1"
    assert (body["order"]["source"], body["order"]["cart_id"]) == ("storefront", None)
    assert (body["order"]["total"], body["order"]["currency"]) == (6490, "EUR")
    order = _order(app, "SHOP-1")
    assert (order.source, order.total, order.email) == ("storefront", 6490, "ada@example.com")
    assert [(i.sku, i.quantity, i.unit_price) for i in order.items] == [
        ("SKU-1", 2, 2500),
        ("SKU-2", 1, 1000),
    ]
    [event] = audit_events(app, "order.create")
    assert (event.actor_type, event.actor_label, event.record_id) == ("api_key", KEY_NAME, order.id)
    assert event.details["source"] == "storefront"


def test_reporting_the_same_order_twice_returns_the_existing_one(app, api):
    body = order_body(number="SHOP-1")
    first = api.post("/orders", json=body)
    events_before = len(audit_events(app))

    again = api.post("/orders", json=body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert (again.json["outcome"], again.json["converted_cart"]) == ("existing", False)
    assert again.json["order"] == first.json["order"]
    assert row_count(app, Order) == 1
    assert len(audit_events(app)) == events_before


def test_the_same_number_with_other_content_is_a_conflict(app, api):
    body = order_body(number="SHOP-1")
    api.post("/orders", json=body)
    events_before = len(audit_events(app))

    response = api.post("/orders", json={**body, "total": body["total"] + 1})

    assert response.status_code == 409
    error = response.json["error"]
    assert (error["code"], error["order_number"]) == ("order_number_conflict", "SHOP-1")
    assert "already reported with different content" in error["message"]
    assert _order(app, "SHOP-1").total == body["total"]
    assert len(audit_events(app)) == events_before


def test_an_order_with_its_cart_id_converts_that_incomplete_order(app, api):
    api.put_cart("cart-1")

    response = api.post_order(number="SHOP-1", cart_id="cart-1")

    assert response.status_code == 201
    assert (response.json["outcome"], response.json["converted_cart"]) == ("created", True)
    assert response.json["order"]["cart_id"] == "cart-1"
    assert _cart_status(app, "cart-1") == "converted"
    held = api.get("/incomplete-orders/cart-1").json
    assert (held["status"], held["order_number"]) == ("converted", "SHOP-1")
    order = _order(app, "SHOP-1")
    [convert] = audit_events(app, "incomplete_order.convert")
    assert (convert.actor_type, convert.actor_label) == ("api_key", KEY_NAME)
    assert convert.details == {"order_id": order.id, "order_number": "SHOP-1"}
    [create] = audit_events(app, "order.create")
    assert (create.actor_type, create.actor_label) == ("api_key", KEY_NAME)


def test_reporting_a_converting_order_again_returns_it_without_converting_twice(app, api):
    api.put_cart("cart-1")
    body = order_body(number="SHOP-1", cart_id="cart-1")
    api.post("/orders", json=body)

    again = api.post("/orders", json=body)

    assert again.status_code == 200
    assert (again.json["outcome"], again.json["converted_cart"]) == ("existing", False)
    assert len(audit_events(app, "incomplete_order.convert")) == 1


@pytest.mark.parametrize("status", ["expired", "cancelled"])
def test_a_customer_who_came_back_converts_an_expired_or_cancelled_cart(
    app, api, make_incomplete_order, status
):
    make_incomplete_order(status=status, cart_id="cart-1")
    response = api.post_order(number="SHOP-1", cart_id="cart-1")
    assert response.status_code == 201
    assert response.json["converted_cart"] is True
    assert _cart_status(app, "cart-1") == "converted"


def test_a_cart_staff_converted_already_is_a_conflict_naming_their_order(
    app, api, make_incomplete_order
):
    make_incomplete_order(cart_id="cart-1")
    staff_number = _staff_convert(app, "cart-1")
    events_before = len(audit_events(app))

    response = api.post_order(number="SHOP-1", cart_id="cart-1")

    assert response.status_code == 409
    error = response.json["error"]
    assert (error["code"], error["order_number"]) == ("cart_already_converted", staff_number)
    assert f"already converted into order {staff_number} (by staff)" in error["message"]
    assert _order(app, "SHOP-1") is None  # no second order
    assert row_count(app, Order) == 1
    assert len(audit_events(app)) == events_before


def test_a_cart_id_reclaim_never_saw_still_records_the_order(app, api):
    response = api.post_order(number="SHOP-1", cart_id="never-snapshotted")
    assert response.status_code == 201
    assert response.json["converted_cart"] is False
    assert response.json["order"]["cart_id"] is None
    assert row_count(app, IncompleteOrder) == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"items": []}, "items", "at least 1 item"),
        ({"number": ...}, "number", "Field required"),
        ({"total": -1}, "total", "greater than or equal to 0"),
        ({"placed_at": "2026-05-01 10:00"}, "placed_at", "timezone"),
        ({"placed_at": "9999-12-31T23:59:59-00:01"}, "placed_at", "out of range"),
        # A far-future order stopped every email once (its shop time overflowed).
        ({"placed_at": "9999-12-31T23:59:59Z"}, "placed_at", "more than an hour in the future"),
        ({"placed_at": "1999-12-31T23:59:59Z"}, "placed_at", "before 2000-01-01"),
        ({"placed_at": 1764582000}, "placed_at", "ISO 8601 date and time string"),
        ({"items": items(("SKU-1", 1, 100)) + [{"sku": "X"}]}, "items.1.name", "Field required"),
        ({"coupon": "SAVE10"}, "coupon", "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_order_is_refused_and_nothing_is_recorded(app, api, overrides, field, message):
    api.put_cart("cart-1")
    events_before = len(audit_events(app))

    response = api.post_order(cart_id="cart-1", **overrides)

    assert response.status_code == 422
    assert message in response.json["error"]["fields"][field]
    assert row_count(app, Order) == 0
    assert _cart_status(app, "cart-1") == "open"
    assert len(audit_events(app)) == events_before
