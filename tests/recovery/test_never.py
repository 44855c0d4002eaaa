"""Every "never" of the recovery sequence: not after the customer bought, not twice, not
after an unsubscribe, not to closed or paused carts, not before new activity has gone
quiet again, not for carts worth too little."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.incomplete_orders.service import ItemSnapshot, apply_snapshot
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.recovery.service import recovery_dedupe_key, send_due
from dashboard.timeutil import as_utc, utcnow
from tests.api.conftest import order_body
from tests.conftest import snapshot
from tests.recovery.conftest import (
    JOB,
    cart,
    deliver,
    hours,
    last_activity,
    outbox,
    run,
    sent_steps,
)


def _quiet_cart(make_incomplete_order, hours_ago=100, **overrides):
    """A cart whose last activity was `hours_ago` hours ago: (id, last activity)."""
    cart_id = make_incomplete_order(snapshot_at=utcnow() - hours(hours_ago), **overrides)
    return cart_id, last_activity(cart_id)


def _order(number, placed_at, **values):
    """An order as the storefront would have reported it, without a cart."""
    values.setdefault("email", "someone-else@example.com")
    order = Order(
        number=number, source="storefront", currency="EUR", total=1000, placed_at=placed_at, **values
    )
    db.session.add(order)
    db.session.commit()
    return order


# --- never after the customer bought ---------------------------------------------------


def test_never_after_an_order_by_the_same_email(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order, email="ada@example.com")
    _order("SHOP-1", quiet + hours(0.5), email="ada@example.com")
    assert run(quiet + hours(100)).sent == 0
    assert outbox() == []


def test_never_after_an_order_by_the_same_customer_id(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order, customer_id="cust-7")
    _order("SHOP-1", quiet + hours(0.5), customer_id="cust-7", email="work@example.com")
    assert run(quiet + hours(100)).sent == 0


def test_an_order_placed_before_the_last_activity_does_not_stop_the_sequence(
    ctx, make_incomplete_order
):
    cart_id, quiet = _quiet_cart(make_incomplete_order, email="ada@example.com")
    _order("SHOP-1", quiet - hours(1), email="ada@example.com")  # bought, then came back
    assert run(quiet + hours(1)).by_step == {1: 1}


def test_an_order_reported_between_two_steps_stops_the_rest(
    ctx, make_incomplete_order, storefront
):
    cart_id, quiet = _quiet_cart(make_incomplete_order, email="ada@example.com")
    assert run(quiet + hours(1)).by_step == {1: 1}
    # The customer buys in another cart 2 h after going quiet; the storefront reports it.
    response = storefront.post_order(
        number="SHOP-77", email="ada@example.com", placed_at=as_utc(quiet + hours(2)).isoformat()
    )
    assert response.status_code == 201, response.json

    for after in (24, 72, 500):
        assert run(quiet + hours(after)).sent == 0
    assert [step for step, _ in sent_steps(cart_id)] == [1]
    assert cart(cart_id).status == "open"  # it was another cart that became the order


# --- never the same email twice ---------------------------------------------------------


def test_running_twice_sends_each_step_once(ctx, make_incomplete_order):
    carts = [_quiet_cart(make_incomplete_order)[0] for _ in range(3)]
    now = last_activity(carts[-1]) + hours(1)
    assert run(now).sent == 3
    assert run(now).sent == 0
    assert run(now + timedelta(minutes=5)).sent == 0
    assert sorted(m.dedupe_key for m in outbox()) == sorted(
        recovery_dedupe_key(cart_id, 1) for cart_id in carts
    )
    assert db.session.scalar(select(func.count()).select_from(RecoveryAttempt)) == 3


@pytest.mark.parametrize("racers", [2, 4])
def test_simultaneous_runs_send_each_step_to_each_cart_once(app, make_incomplete_order, racers):
    carts = [_quiet_cart(make_incomplete_order, hours_ago=30)[0] for _ in range(25)]
    with app.app_context():
        quiet = max(last_activity(cart_id) for cart_id in carts)

    def race(now):
        barrier = threading.Barrier(racers)
        sent, errors = [], []

        def racer():
            with app.app_context():
                try:
                    barrier.wait()
                    sent.append(send_due(JOB, now=now).sent)
                    db.session.commit()
                except Exception as error:  # reported below, with the thread's own error
                    errors.append(error)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=racer) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        return sent

    assert sum(race(quiet + hours(1))) == 25
    assert sum(race(quiet + hours(24))) == 25
    with app.app_context():
        keys = db.session.scalars(select(OutboxMessage.dedupe_key)).all()
        assert sorted(keys) == sorted(
            recovery_dedupe_key(cart_id, step) for cart_id in carts for step in (1, 2)
        )
        attempts = db.session.execute(
            select(RecoveryAttempt.incomplete_order_id, RecoveryAttempt.step)
        ).all()
        assert len(attempts) == len(set(attempts)) == 50
        assert {cart(cart_id).recovery_attempts for cart_id in carts} == {2}


def test_the_outbox_refuses_a_second_email_with_the_same_dedupe_key(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order)
    key = recovery_dedupe_key(cart_id, 1)
    row = outbox_row("recovery", key, "ada@example.com", "Written earlier", "text", "<p>html</p>")
    assert insert_ignoring_duplicates([row]) == 1
    assert insert_ignoring_duplicates([row]) == 0
    db.session.commit()

    # A run that decides to send step 1 again finds the key taken: still one email.
    assert run(quiet + hours(1)).sent == 1
    assert [(m.dedupe_key, m.subject) for m in outbox()] == [(key, "Written earlier")]


# --- never to someone who unsubscribed --------------------------------------------------


def _unsubscribe_path(smtp_server):
    header = smtp_server.messages[-1]["List-Unsubscribe"]
    return urlsplit(header.strip("<>")).path


def test_unsubscribe_link_shows_a_page_and_a_post_confirms(
    app, ctx, client, make_incomplete_order, smtp_server
):
    cart_id, quiet = _quiet_cart(make_incomplete_order, email="ada@example.com")
    run(quiet + hours(1))
    deliver(quiet + hours(1))
    path = _unsubscribe_path(smtp_server)

    page = client.get(path)
    assert page.status_code == 200
    assert "Stop cart reminders?" in page.text and "ada@example.com" in page.text
    assert f'action="{path}"' in page.text
    assert db.session.get(Suppression, "ada@example.com") is None  # a look changes nothing
    db.session.commit()

    done = client.post(path)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert db.session.get(Suppression, "ada@example.com") is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "recovery.unsubscribe"))
    assert event.actor_type == "customer" and event.details == {"email": "ada@example.com"}
    db.session.commit()

    assert client.post(path).status_code == 200  # again: still fine, one suppression
    for after in (24, 72):
        assert run(quiet + hours(after)).sent == 0
    assert [step for step, _ in sent_steps(cart_id)] == [1]


def test_one_click_unsubscribe_works_without_a_csrf_token_and_stops_everything(
    app, ctx, client, make_incomplete_order, smtp_server, monkeypatch, login
):
    login("agent")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    first, quiet = _quiet_cart(make_incomplete_order, email="ada@example.com")
    other, _ = _quiet_cart(make_incomplete_order, email="ada@example.com")
    run(quiet + hours(1))
    deliver(quiet + hours(1))
    path = _unsubscribe_path(smtp_server)

    # What a mail client sends (RFC 8058): no cookie, no token, just this body.
    mail_client = app.test_client()
    response = mail_client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.text
    assert db.session.get(Suppression, "ada@example.com") is not None
    db.session.commit()

    # CSRF is really on: a staff form posted without its token is refused.
    refused = client.post(f"/incomplete-orders/{first}/recovery/pause")
    assert refused.status_code == 400
    assert cart(first).recovery_paused_at is None
    db.session.commit()

    assert run(quiet + hours(200)).sent == 0
    assert len(sent_steps(first)) + len(sent_steps(other)) == 2  # only the step 1s before
    # A new cart by the same address months later gets nothing either.
    later, later_quiet = _quiet_cart(make_incomplete_order, hours_ago=5, email="ADA@example.com")
    assert run(later_quiet + hours(2)).sent == 0
    assert deliver(utcnow()) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(smtp_server.messages) == 2


def test_a_bad_unsubscribe_token_gets_a_friendly_page(client):
    for token in ("garbage", "eyJlIjoiYWRhQGV4YW1wbGUuY29tIn0.bad.signature"):
        for method in (client.get, client.post):
            response = method(f"/u/{token}")
            assert response.status_code == 200
            assert "This link no longer works" in response.text


# --- never to closed or paused carts ----------------------------------------------------


@pytest.mark.parametrize("status", ["converted", "expired", "cancelled"])
def test_never_to_a_closed_cart(ctx, make_incomplete_order, status):
    cart_id, quiet = _quiet_cart(make_incomplete_order, status=status)
    assert run(quiet + hours(100)).sent == 0


def test_never_to_a_paused_cart(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order)
    cart(cart_id).recovery_paused_at = quiet
    cart(cart_id).recovery_paused_by = "agent@example.com"
    db.session.commit()
    assert run(quiet + hours(100)).sent == 0


def test_never_to_a_cart_without_an_email_address(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order, email=None)
    assert run(quiet + hours(100)).sent == 0


def test_new_activity_restarts_the_clock_for_the_next_step(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order, hours_ago=200, cart_id="cart-restart")
    assert run(quiet + hours(1)).by_step == {1: 1}

    # Ten hours later the customer comes back and adds an item.
    back = quiet + hours(10)
    apply_snapshot(
        snapshot(
            cart_id="cart-restart",
            snapshot_at=back,
            email=cart(cart_id).email,
            guest_session=cart(cart_id).guest_session,
            name=cart(cart_id).name,
            items=[ItemSnapshot("SKU-1", "Linen shirt", 3, 2500)],
        ),
        JOB,
    )
    db.session.commit()
    assert last_activity(cart_id) == back

    assert run(quiet + hours(24)).sent == 0  # 24 h after the old activity: not yet
    assert run(back + hours(24) - timedelta(minutes=1)).sent == 0
    assert run(back + hours(24)).by_step == {2: 1}
    step_2 = outbox(cart_id)[-1]
    assert "Linen shirt x 3" in step_2.body_text  # the cart as it is now


def test_a_look_at_the_cart_without_a_change_restarts_the_clock_too(ctx, make_incomplete_order):
    cart_id, quiet = _quiet_cart(make_incomplete_order, hours_ago=200, cart_id="cart-look")
    same = cart(cart_id)
    look = snapshot(
        cart_id="cart-look",
        snapshot_at=quiet + hours(0.5),
        email=same.email,
        guest_session=same.guest_session,
        name=same.name,
    )
    assert apply_snapshot(look, JOB)[1] == "unchanged"
    db.session.commit()
    assert run(quiet + hours(1)).sent == 0
    assert run(quiet + hours(1.5)).by_step == {1: 1}


def test_a_cart_below_the_minimum_value_gets_nothing(app, ctx, make_incomplete_order, monkeypatch):
    monkeypatch.setitem(app.config, "RECOVERY_MIN_CART_VALUE", 6001)
    small, quiet = _quiet_cart(make_incomplete_order)  # 6000
    big, _ = _quiet_cart(make_incomplete_order, items=[ItemSnapshot("SKU-9", "Coat", 1, 6001)])
    assert run(quiet + hours(100)).by_step == {1: 1}
    assert sent_steps(small) == []
    assert [step for step, _ in sent_steps(big)] == [1]
