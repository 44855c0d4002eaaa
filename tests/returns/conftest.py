"""Fixtures for the return tests: the return settings they count on, and orders recorded
through the storefront's own path."""

from datetime import timedelta
from itertools import count

import pytest

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.line_items import ItemSnapshot
from dashboard.orders.service import OrderLine, StorefrontOrder, record_storefront_order
from dashboard.returns.rules import DraftLine, ReturnDraft
from dashboard.returns.service import submit
from dashboard.timeutil import utcnow

STOREFRONT = Actor("api_key", None, "Storefront")
# Whatever the environment says, these tests count on these.
RETURN_SETTINGS = {
    "SHOP_NAME": "Reclaim Demo Shop",
    "SHOP_CURRENCY": "EUR",
    "SHOP_TIMEZONE": "Europe/Berlin",
    "SHOP_CONTACT_EMAIL": "help@example.com",
    "RETURN_WINDOW_DAYS": 30,
    "RETURN_WINDOW_FROM": "delivery",
    "RETURN_SHIP_BY_DAYS": 14,
    "RETURN_DECISION_SLA_HOURS": 48,
    "RESTOCKING_FEE_PERCENT": 0,
    "RETURN_SHIPPING_FEE": 0,
    "FINAL_SALE_SKUS": "",
}


@pytest.fixture(autouse=True)
def _return_settings(app, monkeypatch):
    for name, value in RETURN_SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)


_numbers = count(1)


def storefront_order(
    lines=(("SKU-1", 2, 2500), ("SKU-2", 1, 1000)),
    *,
    days_ago=10,
    delivered_days_ago=None,
    email="ada@example.com",
    total=None,
    shipping_total=None,
    currency="EUR",
):
    """Record an order as the storefront reports it; returns it (in the caller's session).

    `lines` are (sku, quantity, unit_price[, paid_total]) tuples.
    """
    now = utcnow()
    items = [
        OrderLine(sku, f"Product {sku}", quantity, price, *rest)
        if rest
        else ItemSnapshot(sku, f"Product {sku}", quantity, price)
        for sku, quantity, price, *rest in lines
    ]
    report = StorefrontOrder(
        number=f"SHOP-{next(_numbers)}",
        placed_at=now - timedelta(days=days_ago),
        currency=currency,
        total=total
        if total is not None
        else sum(i.quantity * i.unit_price for i in items) + (shipping_total or 0),
        items=items,
        email=email,
        name="Ada Lovelace",
        shipping_total=shipping_total,
        delivered_at=(
            now - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
        ),
    )
    order, _, _ = record_storefront_order(report, STOREFRONT)
    db.session.flush()
    return order


def draft_for(order, *lines, type="return", reason="size_or_fit", comment=None, email=None):
    """A request for `order` from (sku, quantity[, reason[, comment]]) tuples; by default
    every line of the order in full."""
    lines = lines or tuple((item.sku, item.quantity) for item in order.items)
    return ReturnDraft(
        order_number=order.number,
        email=email or order.email,
        type=type,
        reason=reason,
        comment=comment,
        items=[DraftLine(*line) for line in lines],
    )


def submitted(order, *lines, **kwargs):
    """A pending request submitted by the storefront through the service."""
    request, _ = submit(draft_for(order, *lines, **kwargs), STOREFRONT)
    db.session.flush()
    return request
