"""The analytics tests' shop: a scenario of carts abandoned on known shop days around the
end of summer time in Berlin (25 October 2026 has 25 hours), with the answers every report
must give for it."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import update

from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.service import apply_snapshot
from dashboard.line_items import ItemSnapshot
from dashboard.orders.models import Order
from dashboard.orders.service import convert_to_order
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.recovery.rules import recovery_dedupe_key
from tests.factories import RECOVERY_SETTINGS, snapshot

ANALYTICS_SETTINGS = {
    **RECOVERY_SETTINGS,
    "SHOP_TIMEZONE": "Europe/Berlin",
    "SHOP_CURRENCY": "EUR",
    "RECOVERY_MIN_CART_VALUE": 1000,
    "RECOVERY_ATTRIBUTION_DAYS": 5,
}
# 24 October is summer time (UTC+2), 26 October winter time (UTC+1).
SAT, SUN, MON = date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)
# What the figures must be, per shop day.
EXPECTED = {
    SAT: dict(
        abandoned=3,
        recoverable=2,
        emailed=2,
        clicked=1,
        recovered=1,
        recovered_clicked=1,
        late=1,
        self_converted=1,
        lost=0,
        still_open=0,
        recovered_revenue=6490,
        net_recovered_revenue=5490,
    ),
    SUN: dict(
        abandoned=2,
        recoverable=1,
        emailed=1,
        clicked=0,
        recovered=0,
        recovered_clicked=0,
        late=0,
        self_converted=0,
        lost=1,
        still_open=1,
        recovered_revenue=0,
        net_recovered_revenue=0,
    ),
    MON: dict(
        abandoned=1,
        recoverable=0,
        emailed=0,
        clicked=0,
        recovered=0,
        recovered_clicked=0,
        late=0,
        self_converted=0,
        lost=0,
        still_open=1,
        recovered_revenue=0,
        net_recovered_revenue=0,
    ),
}
# Per step, over the three days.
EXPECTED_STEPS = {
    1: dict(
        sent=3,
        failed=1,
        withdrawn=0,
        clicked=1,
        recovered=1,
        recovered_revenue=6490,
        unsubscribed=1,
    ),
    2: dict(
        sent=1, failed=0, withdrawn=0, clicked=0, recovered=0, recovered_revenue=0, unsubscribed=0
    ),
}
# A moment after all of it (the scenario's clock for the analytics run).
AFTER = datetime(2026, 11, 20, 12, 0)
FIRST_DELAY = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _settings(app, monkeypatch):
    for name, value in ANALYTICS_SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)


@pytest.fixture
def settings(app):
    with app.app_context():
        return AnalyticsSettings.from_config()


def utc(*args):
    return datetime(*args)


class Scenario:
    """Carts made through the storefront snapshot service, their recovery emails as the
    outbox records them, clicks, conversions through the conversion service; times then
    placed where the story needs them."""

    def __init__(self):
        self.carts = {}

    def cart(self, name, abandoned_utc, value=6000, email=True, customer_id=None, stage="checkout"):
        items = [ItemSnapshot("SKU-1", "Linen shirt", 1, value)] if value else []
        order, _ = apply_snapshot(
            snapshot(
                cart_id=f"cart-{name}",
                snapshot_at=abandoned_utc - FIRST_DELAY,
                email=f"{name.lower()}@example.com" if email else None,
                customer_id=customer_id,
                stage=stage,
                items=items,
            ),
            Actor.system("test"),
        )
        db.session.flush()
        self.carts[name] = order
        return order

    def email(self, name, step, sent_utc, status="sent", clicked=False):
        cart = self.carts[name]
        db.session.add(
            RecoveryAttempt(
                incomplete_order_id=cart.id,
                step=step,
                sent_at=sent_utc,
                clicked_at=sent_utc + timedelta(minutes=5) if clicked else None,
            )
        )
        db.session.add(
            OutboxMessage(
                kind="recovery",
                dedupe_key=recovery_dedupe_key(cart.id, step),
                to_email=cart.email,
                status=status,
                sent_at=sent_utc if status == "sent" else None,
                record_type="incomplete_order",
                record_id=cart.id,
            )
        )
        cart.recovery_attempts = step
        db.session.flush()

    def convert(self, name, at_utc, total=6490, refunded=0):
        cart = self.carts[name]
        order = convert_to_order(cart, Actor.system("test"))
        db.session.flush()
        db.session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(total=total, refunded_total=refunded, placed_at=at_utc)
        )
        self.set_status(name, "converted", at_utc)
        return order

    def set_status(self, name, status, at_utc):
        db.session.execute(
            update(IncompleteOrder)
            .where(IncompleteOrder.id == self.carts[name].id)
            .values(status=status, status_changed_at=at_utc)
        )

    def unsubscribe(self, name, at_utc):
        db.session.add(Suppression(email=self.carts[name].email, created_at=at_utc))
        db.session.flush()


def build_scenario():
    s = Scenario()
    # Saturday 24 October (UTC+2)
    s.cart("A1", utc(2026, 10, 24, 21, 30))  # 23:30 shop time: still Saturday
    s.email("A1", 1, utc(2026, 10, 24, 22, 0), clicked=True)
    s.convert("A1", utc(2026, 10, 26, 10, 0), total=6490, refunded=1000)  # recovered
    s.cart("A2", utc(2026, 10, 24, 8, 0), customer_id="cust-2")
    s.email("A2", 1, utc(2026, 10, 24, 9, 0))
    s.email("A2", 2, utc(2026, 10, 25, 9, 0))
    s.convert("A2", utc(2026, 11, 5, 9, 0))  # eleven days after the last email: late
    s.cart("A3", utc(2026, 10, 24, 10, 0), value=500)  # below the minimum
    s.convert("A3", utc(2026, 10, 24, 12, 0))  # no email before it: self-converted
    # Sunday 25 October: 25 hours, clocks back at 03:00 summer time (01:00 UTC)
    s.cart("B1", utc(2026, 10, 24, 22, 30))  # 00:30 shop time: Sunday already
    s.email("B1", 1, utc(2026, 10, 24, 23, 0), status="failed")
    s.set_status("B1", "expired", utc(2026, 11, 19, 0, 0))  # lost
    s.cart("B2", utc(2026, 10, 25, 22, 30))  # 23:30 winter time: still Sunday
    s.email("B2", 1, utc(2026, 10, 25, 23, 0))
    s.unsubscribe("B2", utc(2026, 10, 26, 8, 0))  # still open, no longer recoverable
    # Monday 26 October (UTC+1)
    s.cart("C1", utc(2026, 10, 25, 23, 10), value=500, customer_id="cust-3")  # 00:10 Monday
    # Never abandoned: bought within the first delay; and one quiet for only 20 minutes.
    s.cart("D1", utc(2026, 10, 25, 12, 0))
    s.convert("D1", utc(2026, 10, 25, 11, 30))
    s.cart("E1", AFTER + timedelta(minutes=40))
    db.session.commit()
    return s


@pytest.fixture
def scenario(app):
    with app.app_context():
        build_scenario()
