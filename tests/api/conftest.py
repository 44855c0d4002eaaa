"""Fixtures for the storefront API: a real key issued by a manager, a client that sends it,
and request bodies with sensible defaults."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from dashboard.api_keys.service import issue_key
from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.auth.models import Staff
from dashboard.extensions import db

KEY_NAME = "Storefront production"


@pytest.fixture
def api_key(app, make_staff):
    """The plaintext of a fresh key named KEY_NAME, issued by a manager."""
    manager_id = make_staff("manager", "key-owner@example.com")
    with app.app_context():
        manager = db.session.get(Staff, manager_id)
        _key, plaintext = issue_key(KEY_NAME, Actor.staff(manager), manager)
        db.session.commit()
    return plaintext


class Api:
    """The test client, speaking to /api/v1 with a bearer key."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def request(self, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put_cart(self, cart_id, **overrides):
        return self.put(f"/incomplete-orders/{cart_id}", json=cart_body(**overrides))

    def post_order(self, **overrides):
        return self.post("/orders", json=order_body(**overrides))


@pytest.fixture
def api(client, api_key):
    return Api(client, api_key)


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


def audit_events(app, action=None):
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return db.session.scalars(query).all()


def row_count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))
