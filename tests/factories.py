"""Test data with sensible defaults: cart snapshots, API request bodies, orders and return
requests as the storefront sends them, simulated time, and the constants the tests share
(the staff password, the key name, the recovery and return settings).

Plain functions and values, importable from any test package: `from tests.factories import
snapshot`. Fixtures that use them live in tests/fixtures/.
"""

from datetime import UTC, datetime, timedelta
from itertools import count

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.service import CartSnapshot
from dashboard.line_items import ItemSnapshot
from dashboard.orders.service import OrderLine, StorefrontOrder, record_storefront_order
from dashboard.returns.rules import DraftLine, ReturnDraft
from dashboard.returns.service import submit
from dashboard.timeutil import utcnow

# Every staff account the fixtures make signs in with this password.
PASSWORD = "correct-horse-battery"
# The name of the key the `api_key` fixture issues.
KEY_NAME = "Storefront production"

# The actor of recovery runs started by the tests.
JOB = Actor.system("test-recovery")
# A delivery run's answer when it had nothing to do.
NOTHING = {"sent": 0, "retry": 0, "failed": 0, "withdrawn": 0}
# The settings the recovery and outbox tests count on, whatever the environment says.
RECOVERY_SETTINGS = {
    "SHOP_NAME": "Reclaim Demo Shop",
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "RECOVERY_RESTORE_URL": "http://localhost:8000/cart/restore?cart={cart_id}",
    "RECOVERY_DELAYS": [timedelta(hours=1), timedelta(hours=24), timedelta(hours=72)],
    "RECOVERY_MANUAL_MIN_GAP_HOURS": 12,
    "RECOVERY_MAX_ATTEMPTS": 3,
    "RECOVERY_MIN_CART_VALUE": 0,
    "RESTORE_LINK_DAYS": 30,
    "EXPIRE_AFTER_DAYS": 30,
    "RETENTION_DAYS": 180,
    "OUTBOX_MAX_ATTEMPTS": 8,
}
SETTINGS = RECOVERY_SETTINGS  # the name the recovery tests know it by


def hours(n):
    return timedelta(hours=n)


_carts = count(1)


def snapshot(**overrides):
    """A storefront cart snapshot (for `apply_snapshot`) with sensible defaults."""
    n = next(_carts)
    values = {
        "cart_id": f"cart-{n}",
        "currency": "EUR",
        "snapshot_at": utcnow() - timedelta(hours=2),
        "stage": "checkout",
        "customer_id": None,
        "guest_session": f"guest-{n}",
        "email": f"customer{n}@example.com",
        "phone": "+49 170 1234567",
        "name": f"Customer {n}",
        "items": [
            ItemSnapshot("SKU-1", "Linen shirt", 2, 2500),
            ItemSnapshot("SKU-2", "Belt", 1, 1000),
        ],
    }
    values.update(overrides)
    return CartSnapshot(**values)


# --- request bodies of the storefront API ---------------------------------------------------


def items(*lines):
    """Line items from (sku, quantity, unit_price) tuples; two items worth 6000 by default."""
    lines = lines or (("SKU-1", 2, 2500), ("SKU-2", 1, 1000))
    return [
        {"sku": sku, "name": f"Product {sku}", "quantity": quantity, "unit_price": price}
        for sku, quantity, price in lines
    ]


def at(minutes_ago):
    """An ISO 8601 time with a zone, `minutes_ago` minutes before now."""
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def cart_body(**overrides):
    """A cart snapshot body; an override of `...` leaves that field out."""
    body = {
        "snapshot_at": at(120),
        "stage": "checkout",
        "currency": "EUR",
        "guest_session": "guest-session-1",
        "email": "ada@example.com",
        "phone": "+49 170 1234567",
        "name": "Ada Lovelace",
        "items": items(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


_numbers = count(1000)


def order_body(**overrides):
    """A completed order body with a new number; an override of `...` leaves that field out."""
    body = {
        "number": f"SHOP-{next(_numbers)}",
        "placed_at": at(5),
        "currency": "EUR",
        "total": 6490,  # items plus shipping: the storefront's total is what was charged
        "customer_id": "cust-42",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "items": items(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


# --- orders and return requests, through the services in the caller's session -----------

# The actor of what the storefront does through its API key.
STOREFRONT = Actor("api_key", None, "Storefront")
# The settings the return tests count on, whatever the environment says.
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

_order_numbers = count(1)


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
        number=f"SHOP-{next(_order_numbers)}",
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
