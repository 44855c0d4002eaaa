"""convert_to_order: the rules, and exactly once under races (SQLite and PostgreSQL)."""

import threading

import pytest
from sqlalchemy import func, select

from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.orders.service import AlreadyConverted, ConversionRefused, convert_to_order


def _convert(order_id, **kwargs):
    order = db.session.get(IncompleteOrder, order_id)
    return convert_to_order(order, Actor.system("test"), **kwargs)


def test_conversion_copies_items_and_total_and_closes_the_cart(ctx, make_incomplete_order):
    order_id = make_incomplete_order()
    order = _convert(order_id, payment_received=False)
    db.session.commit()
    cart = db.session.get(IncompleteOrder, order_id)
    assert cart.status == "converted"
    assert order.total == 6000 and order.currency == "EUR"
    assert [(i.sku, i.quantity, i.unit_price) for i in order.items] == [
        ("SKU-1", 2, 2500),
        ("SKU-2", 1, 1000),
    ]
    assert order.payment_received is False
    assert order.number == f"RC-{order_id:07d}"
    assert cart.converted_order.id == order.id
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "incomplete_order.convert" in actions and "order.create" in actions


def test_second_conversion_names_the_existing_order(ctx, make_incomplete_order):
    order_id = make_incomplete_order()
    first = _convert(order_id)
    db.session.commit()
    with pytest.raises(AlreadyConverted) as refused:
        _convert(order_id)
    assert refused.value.order.id == first.id
    assert f"see order {first.number}" in str(refused.value)


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({"email": None}, "open", "no email address"),
        ({}, "expired", "only open ones can be converted"),
        ({}, "cancelled", "only open ones can be converted"),
    ],
)
def test_only_open_orders_with_email_convert(ctx, make_incomplete_order, overrides, status, reason):
    order_id = make_incomplete_order(status=status, **overrides)
    with pytest.raises(ConversionRefused, match=reason):
        _convert(order_id)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_empty_cart_cannot_convert(ctx, make_incomplete_order):
    order_id = make_incomplete_order()
    cart = db.session.get(IncompleteOrder, order_id)
    cart.items = []
    db.session.commit()
    with pytest.raises(ConversionRefused, match="no items"):
        _convert(order_id)


@pytest.mark.parametrize("racers", [2, 6])
def test_simultaneous_conversions_make_one_order(app, make_incomplete_order, racers):
    order_id = make_incomplete_order()
    barrier = threading.Barrier(racers)
    outcomes = []

    def race():
        with app.app_context():
            cart = db.session.get(IncompleteOrder, order_id)
            assert cart.items
            db.session.commit()  # hold no transaction while waiting for the others
            barrier.wait()
            try:
                order = convert_to_order(cart, Actor.system("racer"))
                db.session.commit()
                outcomes.append(("won", order.number))
            except AlreadyConverted as refused:
                db.session.rollback()
                outcomes.append(("lost", refused.order.number))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(kind for kind, _ in outcomes) == ["lost"] * (racers - 1) + ["won"]
    assert len({number for _, number in outcomes}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1
        converts = db.session.scalar(
            select(func.count()).where(AuditEvent.action == "incomplete_order.convert")
        )
        assert converts == 1
