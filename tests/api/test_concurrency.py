"""Races through the API (SQLite and PostgreSQL): snapshots of one cart at once, a storefront
order against a staff conversion, the same order reported twice at once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.orders.service import AlreadyConverted, convert_to_order
from tests.factories import cart_body, items, order_body
from tests.helpers import Api


def race(*racers):
    """Run each racer in a thread of its own; each calls start() when it is ready, and all
    are released together. Returns what each returned (or raised), in order."""
    barrier = threading.Barrier(len(racers))
    results = [None] * len(racers)

    def run(index, racer):
        try:
            results[index] = racer(lambda: barrier.wait(timeout=30))
        except BaseException as error:  # reported by the test, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def api_call(app, key, method, path, body):
    client = Api(app.test_client(), key)

    def racer(start):
        start()
        return client.request(method, path, json=body)

    return racer


def staff_conversion(app, cart_id):
    def racer(start):
        with app.app_context():
            cart = db.session.scalar(
                select(IncompleteOrder).where(IncompleteOrder.cart_id == cart_id)
            )
            assert cart.items
            db.session.commit()  # hold no transaction while waiting for the others
            start()
            try:
                order = convert_to_order(cart, Actor.system("staff racer"))
                db.session.commit()
                return ("won", order.number)
            except AlreadyConverted as refused:
                db.session.rollback()
                return ("lost", refused.order.number)
            finally:
                db.session.remove()

    return racer


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _events(app, action):
    return _count(app, AuditEvent, AuditEvent.action == action)


@pytest.mark.parametrize("racers", [2, 8])
def test_simultaneous_snapshots_of_a_new_cart_make_one_order_holding_the_newest(
    app, api_key, racers
):
    now = datetime.now(UTC)
    snapshots = [
        cart_body(
            snapshot_at=(now - timedelta(minutes=10 + n)).isoformat(),
            items=items((f"SKU-{n}", n + 1, 100 * (n + 1))),
        )
        for n in range(racers)
    ]
    newest = snapshots[0]

    responses = race(
        *[api_call(app, api_key, "PUT", "/incomplete-orders/cart-1", s) for s in snapshots]
    )

    assert sorted(r.status_code for r in responses) == [200] * (racers - 1) + [201]
    outcomes = [r.json["outcome"] for r in responses]
    assert outcomes.count("created") == 1
    assert set(outcomes) <= {"created", "updated", "stale"}
    assert _count(app, IncompleteOrder) == 1
    with app.app_context():
        cart = db.session.scalar(select(IncompleteOrder))
        held = [
            {"sku": i.sku, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price}
            for i in cart.items
        ]
        assert held == newest["items"]
        assert cart.subtotal == 100
        assert cart.last_activity_at == (now - timedelta(minutes=10)).replace(tzinfo=None)
    assert _events(app, "incomplete_order.create") == 1
    assert _events(app, "incomplete_order.update") == outcomes.count("updated")


def test_the_same_snapshot_sent_at_once_is_recorded_once(app, api_key):
    body = cart_body()
    responses = race(
        *[api_call(app, api_key, "PUT", "/incomplete-orders/cart-1", body) for _ in range(6)]
    )
    assert sorted(r.json["outcome"] for r in responses) == ["created"] + ["unchanged"] * 5
    assert _count(app, IncompleteOrder) == 1
    assert _events(app, "incomplete_order.create") == 1
    assert _events(app, "incomplete_order.update") == 0


@pytest.mark.parametrize("attempt", range(3))
def test_a_storefront_order_racing_a_staff_conversion_makes_one_order(
    app, api_key, make_incomplete_order, attempt
):
    make_incomplete_order(cart_id="cart-1")
    body = order_body(number="SHOP-1", cart_id="cart-1")

    (staff, *_), storefront = race(
        staff_conversion(app, "cart-1"),
        api_call(app, api_key, "POST", "/orders", body),
    )

    assert _count(app, Order) == 1
    with app.app_context():
        [order] = db.session.scalars(select(Order)).all()
        assert db.session.scalar(select(IncompleteOrder.status)) == "converted"
    if staff == "won":
        assert storefront.status_code == 409
        error = storefront.json["error"]
        assert (error["code"], error["order_number"]) == ("cart_already_converted", order.number)
        assert order.source == "staff"
    else:
        assert storefront.status_code == 201
        assert storefront.json["converted_cart"] is True
        assert order.number == "SHOP-1" and order.source == "storefront"
    assert _events(app, "incomplete_order.convert") == 1
    assert _events(app, "order.create") == 1


@pytest.mark.parametrize("with_cart", [False, True], ids=["no-cart", "with-cart"])
def test_the_same_order_reported_at_once_is_recorded_once(app, api, api_key, with_cart):
    if with_cart:
        api.put_cart("cart-1")
    body = order_body(number="SHOP-1", cart_id="cart-1" if with_cart else ...)

    responses = race(*[api_call(app, api_key, "POST", "/orders", body) for _ in range(6)])

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201], [
        r.json for r in responses
    ]
    assert {r.json["order"]["number"] for r in responses} == {"SHOP-1"}
    assert [r.json["converted_cart"] for r in responses].count(True) == int(with_cart)
    assert _count(app, Order) == 1
    assert _events(app, "order.create") == 1
    assert _events(app, "incomplete_order.convert") == int(with_cart)


def test_the_same_number_with_other_content_at_once_is_one_order_and_conflicts(app, api_key):
    bodies = [order_body(number="SHOP-1", total=1000 + n) for n in range(4)]

    responses = race(*[api_call(app, api_key, "POST", "/orders", b) for b in bodies])

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    for response in responses:
        if response.status_code == 409:
            assert response.json["error"]["code"] == "order_number_conflict"
    assert _count(app, Order) == 1
