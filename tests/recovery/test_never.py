"""Every "never" of the recovery sequence: not after the customer bought, not twice, not
after an unsubscribe, not to closed or paused carts, not before new activity has gone
quiet again, not for carts worth too little."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from dashboard.extensions import db
from dashboard.incomplete_orders.service import ItemSnapshot, apply_snapshot
from dashboard.orders.models import Order
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.recovery.rules import recovery_dedupe_key
from dashboard.recovery.runner import run_recovery
from dashboard.recovery.service import unsubscribe
from dashboard.recovery.tokens import unsubscribe_token
from dashboard.timeutil import as_utc, utcnow
from tests.factories import JOB, NOTHING, hours, snapshot


def steps_sent(shop, cart_id):
    return [attempt.step for attempt in shop.steps(cart_id)]


def add_order(app, number, placed_at, **values):
    """An order the storefront reported earlier, for another cart."""
    values.setdefault("email", "someone-else@example.com")
    with app.app_context():
        db.session.add(
            Order(
                number=number,
                source="storefront",
                currency="EUR",
                total=1000,
                placed_at=placed_at,
                **values,
            )
        )
        db.session.commit()


# --- never after the customer bought ---------------------------------------------------


def test_never_after_an_order_by_the_same_email(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    add_order(app, "SHOP-1", quiet + hours(0.5), email="ada@example.com")
    assert shop.run(quiet + hours(100)).sent == 0
    assert shop.outbox() == []


def test_never_after_an_order_by_the_same_customer_id(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(customer_id="cust-7")
    add_order(app, "SHOP-1", quiet + hours(0.5), customer_id="cust-7", email="work@example.com")
    assert shop.run(quiet + hours(100)).sent == 0


def test_an_order_placed_before_the_last_activity_does_not_stop_the_sequence(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    add_order(app, "SHOP-1", quiet - hours(1), email="ada@example.com")  # bought, came back
    assert shop.run(quiet + hours(1)).by_step == {1: 1}


def test_an_order_reported_between_two_steps_stops_the_rest(shop, quiet_cart, storefront):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    assert shop.run(quiet + hours(1)).by_step == {1: 1}
    # Two hours after going quiet the customer buys (another cart); the storefront says so.
    response = storefront.post_order(
        number="SHOP-77", email="ada@example.com", placed_at=as_utc(quiet + hours(2)).isoformat()
    )
    assert response.status_code == 201, response.json

    for after in (24, 72, 500):
        assert shop.run(quiet + hours(after)).sent == 0
    assert steps_sent(shop, cart_id) == [1]
    assert shop.cart(cart_id).status == "open"  # another cart became the order


# --- not when it stopped holding between the run and the delivery ----------------------


def test_an_email_queued_before_the_customer_bought_is_withdrawn_not_sent(
    shop, quiet_cart, storefront, smtp_server
):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    assert shop.run(quiet + hours(1)).by_step == {1: 1}
    # Before the email goes out (the mail server was down, say) the customer buys.
    response = storefront.post_order(
        number="SHOP-78", email="ada@example.com", placed_at=as_utc(quiet + hours(2)).isoformat()
    )
    assert response.status_code == 201, response.json

    assert shop.deliver() == {**NOTHING, "withdrawn": 1}
    assert smtp_server.messages == []
    (message,) = shop.outbox(cart_id)
    assert message.status == "withdrawn" and message.body_html is None
    assert message.last_error.startswith("bought order SHOP-78 on ")
    first = shop.ledger(cart_id)[0]
    assert (first.state, first.reason) == ("withdrawn", message.last_error)
    assert shop.deliver() == NOTHING  # withdrawn for good


def _unsubscribe(app, shop, cart_id):
    with app.app_context():
        unsubscribe("ada@example.com", JOB)
        db.session.commit()


def _pause(app, shop, cart_id):
    shop.update_cart(cart_id, recovery_paused_at=utcnow(), recovery_paused_by="agent@example.com")


def _expire(app, shop, cart_id):
    shop.update_cart(cart_id, status="expired", status_changed_at=utcnow())


@pytest.mark.parametrize(
    "change, reason",
    [
        (_unsubscribe, "unsubscribed on "),
        (_pause, "paused by agent@example.com on "),
        (_expire, "expired on "),
    ],
)
def test_an_email_queued_before_a_stop_is_withdrawn(
    app, shop, quiet_cart, smtp_server, change, reason
):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    other, later = quiet_cart(email="bob@example.com")
    assert shop.run(later + hours(1)).sent == 2
    change(app, shop, cart_id)

    assert shop.deliver() == {**NOTHING, "sent": 1, "withdrawn": 1}
    assert [m["To"] for m in smtp_server.messages] == ["bob@example.com"]
    (message,) = shop.outbox(cart_id)
    assert message.status == "withdrawn" and message.last_error.startswith(reason)


# --- never the same email twice ---------------------------------------------------------


def test_running_twice_sends_each_step_once(shop, quiet_cart):
    carts = [quiet_cart()[0] for _ in range(3)]
    now = shop.cart(carts[-1]).last_activity_at + hours(1)
    assert shop.run(now).sent == 3
    assert shop.run(now).sent == 0
    assert shop.run(now + timedelta(minutes=5)).sent == 0
    assert sorted(m.dedupe_key for m in shop.outbox()) == sorted(
        recovery_dedupe_key(cart_id, 1) for cart_id in carts
    )
    assert shop.count(RecoveryAttempt) == 3


@pytest.mark.parametrize("racers", [2, 4])
def test_simultaneous_runs_send_each_step_to_each_cart_once(app, shop, quiet_cart, racers):
    carts = [quiet_cart(hours_ago=30)[0] for _ in range(25)]
    quiet = max(shop.cart(cart_id).last_activity_at for cart_id in carts)

    def race(now):
        barrier = threading.Barrier(racers)
        sent, errors = [], []

        def racer():
            with app.app_context():
                try:
                    barrier.wait()
                    sent.append(run_recovery(JOB, now=now).sent)
                    db.session.commit()
                except Exception as error:  # reported by the main thread
                    errors.append(error)

        threads = [threading.Thread(target=racer) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        return sum(sent)

    assert race(quiet + hours(1)) == 25
    shop.deliver(quiet + hours(1))
    assert race(quiet + hours(24)) == 25
    assert sorted(m.dedupe_key for m in shop.outbox()) == sorted(
        recovery_dedupe_key(cart_id, step) for cart_id in carts for step in (1, 2)
    )
    assert [steps_sent(shop, cart_id) for cart_id in carts] == [[1, 2]] * 25
    assert {shop.cart(cart_id).recovery_attempts for cart_id in carts} == {2}


def test_the_outbox_refuses_a_second_email_with_the_same_dedupe_key(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    key = recovery_dedupe_key(cart_id, 1)
    row = outbox_row("recovery", key, "ada@example.com", "Written earlier", "text", "<p>x</p>")
    with app.app_context():
        assert insert_ignoring_duplicates([row]) == 1
        assert insert_ignoring_duplicates([row]) == 0
        db.session.commit()

    # A run that decides to send step 1 again finds the key taken: still one email.
    assert shop.run(quiet + hours(1)).sent == 1
    assert [(m.dedupe_key, m.subject) for m in shop.outbox()] == [(key, "Written earlier")]


# --- never to someone who unsubscribed --------------------------------------------------


def unsubscribe_path(smtp_server):
    """The path of the List-Unsubscribe link of the last email received."""
    return urlsplit(smtp_server.messages[-1]["List-Unsubscribe"].strip("<>")).path


def suppressed(app, email):
    with app.app_context():
        return db.session.get(Suppression, email) is not None


def test_unsubscribe_link_shows_a_page_and_a_post_confirms(
    app, client, shop, quiet_cart, smtp_server
):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    path = unsubscribe_path(smtp_server)
    assert path.startswith("/u/")

    page = client.get(path)
    assert page.status_code == 200
    assert "Stop cart reminders?" in page.text and "ada@example.com" in page.text
    assert f'action="{path}"' in page.text
    assert not suppressed(app, "ada@example.com")  # looking changes nothing

    done = client.post(path)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert suppressed(app, "ada@example.com")
    (event,) = shop.events("recovery.unsubscribe")
    assert event.actor_type == "customer" and event.details == {"email": "ada@example.com"}

    assert client.post(path).status_code == 200  # twice is fine, and recorded once
    assert len(shop.events("recovery.unsubscribe")) == 1
    for after in (24, 72):
        assert shop.run(quiet + hours(after)).sent == 0
    assert steps_sent(shop, cart_id) == [1]


def test_one_click_unsubscribe_works_without_a_csrf_token_and_stops_everything(
    app, client, login, shop, quiet_cart, smtp_server, monkeypatch
):
    login("agent")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    first, quiet = quiet_cart(email="ada@example.com")
    other, _ = quiet_cart(email="ada@example.com")
    shop.run(quiet + hours(2))
    shop.deliver(quiet + hours(2))
    assert len(smtp_server.messages) == 2

    # What a mail client sends (RFC 8058): no cookie, no token, just this body.
    response = app.test_client().post(
        unsubscribe_path(smtp_server),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.text
    assert suppressed(app, "ada@example.com")

    # CSRF is on: a staff form posted without its token is refused.
    assert client.post(f"/incomplete-orders/{first}/recovery/pause").status_code == 400
    assert shop.cart(first).recovery_paused_at is None

    assert shop.run(quiet + hours(200)).sent == 0
    assert steps_sent(shop, first) == steps_sent(shop, other) == [1]
    # A new cart from the same address (written differently) gets nothing either.
    later, later_quiet = quiet_cart(hours_ago=5, email="ADA@example.com")
    assert shop.run(later_quiet + hours(2)).sent == 0
    assert shop.deliver() == NOTHING
    assert len(smtp_server.messages) == 2


def test_a_bad_unsubscribe_token_gets_a_friendly_page(app, client):
    with app.app_context():
        good = unsubscribe_token("ada@example.com")
    for token in ("garbage", good[:-2] + ("AA" if not good.endswith("AA") else "BB")):
        for method in (client.get, client.post):
            response = method(f"/u/{token}")
            assert response.status_code == 200
            assert "This link no longer works" in response.text
    assert not suppressed(app, "ada@example.com")


# --- never to closed or paused carts ----------------------------------------------------


@pytest.mark.parametrize("status", ["converted", "expired", "cancelled"])
def test_never_to_a_closed_cart(shop, quiet_cart, status):
    cart_id, quiet = quiet_cart(status=status)
    assert shop.run(quiet + hours(100)).sent == 0


def test_never_to_a_paused_cart(shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    shop.update_cart(cart_id, recovery_paused_at=quiet, recovery_paused_by="agent@example.com")
    assert shop.run(quiet + hours(100)).sent == 0


def test_never_to_a_cart_without_an_email_address(shop, quiet_cart):
    cart_id, quiet = quiet_cart(email=None)
    assert shop.run(quiet + hours(100)).sent == 0


def _come_back(app, shop, cart_id, at, items=None):
    """The customer is active in the cart again at `at`; the storefront sends a snapshot."""
    held = shop.cart(cart_id)
    look = snapshot(
        cart_id=held.cart_id,
        snapshot_at=at,
        email=held.email,
        guest_session=held.guest_session,
        name=held.name,
    )
    if items:
        look.items = items
    with app.app_context():
        outcome = apply_snapshot(look, JOB)[1]
        db.session.commit()
    return outcome


def test_new_activity_restarts_the_clock_for_the_next_step(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(hours_ago=200)
    assert shop.run(quiet + hours(1)).by_step == {1: 1}
    shop.deliver(quiet + hours(1))

    back = quiet + hours(10)  # the customer comes back and takes a third shirt
    shirts = [ItemSnapshot("SKU-1", "Linen shirt", 3, 2500)]
    assert _come_back(app, shop, cart_id, back, items=shirts) == "updated"
    assert shop.cart(cart_id).last_activity_at == back

    assert shop.run(quiet + hours(24)).sent == 0  # 24 h after the old activity: not yet
    assert shop.run(back + hours(24) - timedelta(minutes=1)).sent == 0
    assert shop.run(back + hours(24)).by_step == {2: 1}
    shop.deliver(back + hours(24))
    assert "Linen shirt x 3" in shop.outbox(cart_id)[-1].body_text  # the cart as it is now


def test_a_look_at_the_cart_without_a_change_restarts_the_clock_too(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(hours_ago=200)
    assert _come_back(app, shop, cart_id, quiet + hours(0.5)) == "unchanged"
    assert shop.run(quiet + hours(1)).sent == 0
    assert shop.run(quiet + hours(1.5)).by_step == {1: 1}


def test_a_cart_below_the_minimum_value_gets_nothing(app, shop, quiet_cart, monkeypatch):
    monkeypatch.setitem(app.config, "RECOVERY_MIN_CART_VALUE", 6001)
    small, quiet = quiet_cart()  # 6000
    big, _ = quiet_cart(items=[ItemSnapshot("SKU-9", "Coat", 1, 6001)])
    assert shop.run(quiet + hours(2)).by_step == {1: 1}
    assert steps_sent(shop, small) == []
    assert steps_sent(shop, big) == [1]


def test_a_run_at_the_real_time_uses_the_real_clock(shop, quiet_cart):
    fresh, _ = quiet_cart(hours_ago=0.5)
    due, _ = quiet_cart(hours_ago=2)
    assert shop.run(None).by_step == {1: 1}
    assert steps_sent(shop, fresh) == [] and steps_sent(shop, due) == [1]
    assert utcnow() - shop.steps(due)[0].sent_at < timedelta(minutes=1)
