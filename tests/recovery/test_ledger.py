"""The ledger: for each step of a cart's sequence, sent (when), scheduled (when), or why
not — in recovery.queries.ledger and on the incomplete order's page."""

from datetime import timedelta

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.service import convert_to_order
from dashboard.recovery import service as recovery
from dashboard.timeutil import as_utc, utcnow
from tests.factories import hours


def states(ledger):
    return [(s.step, s.state, s.at, s.reason) for s in ledger]


def day(app, value):
    with app.app_context():
        return shop_time(value, "%d %b %Y")


def test_a_quiet_cart_has_three_steps_scheduled(shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    assert states(shop.ledger(cart_id, now=quiet + hours(0.5))) == [
        (1, "scheduled", quiet + hours(1), None),
        (2, "scheduled", quiet + hours(24), None),
        (3, "scheduled", quiet + hours(72), None),
    ]
    # Overdue (no run happened yet): the next run sends it.
    overdue = quiet + hours(5)
    assert shop.ledger(cart_id, now=overdue)[0].at == overdue


def test_sent_steps_say_when_and_how_delivery_and_the_click_went(
    client, shop, quiet_cart, smtp_server
):
    cart_id, quiet = quiet_cart()
    shop.run(quiet + hours(1))
    first, second, third = shop.ledger(cart_id, now=quiet + hours(2))
    assert (first.state, first.at, first.delivery) == ("waiting", quiet + hours(1), "queued")
    # The next steps are timed from when step 1 goes out, not from its queueing.
    assert (second.state, second.at, second.reason) == (
        "scheduled",
        None,
        "23 hours after step 1 goes out",
    )
    assert (third.state, third.reason) == ("scheduled", "71 hours after step 1 goes out")

    shop.deliver(quiet + hours(1.5))  # delivery took half an hour
    restore = smtp_server.messages[0].get_body(("plain",)).get_content()
    path = restore[restore.index("/r/") :].split()[0]
    assert client.get(path).status_code == 303
    first, second, third = shop.ledger(cart_id, now=quiet + hours(2))
    assert (first.state, first.at, first.delivery) == ("sent", quiet + hours(1.5), "sent")
    assert first.clicked_at is not None
    assert (second.state, second.at) == ("scheduled", quiet + hours(24.5))
    assert (third.state, third.at) == ("scheduled", quiet + hours(72.5))


def test_the_schedule_is_what_the_runs_do_when_a_step_went_out_late(shop, quiet_cart):
    cart_id, quiet = quiet_cart(hours_ago=200)
    shop.run(quiet + hours(10))  # the scheduler was down for nine hours
    shop.deliver(quiet + hours(10))
    _, second, third = shop.ledger(cart_id, now=quiet + hours(11))
    # Step 2 keeps its spacing (23 h) after step 1; step 3 its spacing (48 h) after step 2.
    assert (second.state, second.at) == ("scheduled", quiet + hours(33))
    assert (third.state, third.at) == ("scheduled", quiet + hours(81))

    minute = timedelta(minutes=1)
    assert shop.run(second.at - minute).sent == 0
    assert shop.run(second.at).by_step == {2: 1}
    shop.deliver(second.at)
    assert shop.run(third.at - minute).sent == 0
    assert shop.run(third.at).by_step == {3: 1}


def test_all_steps_sent(shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    for after in (1, 24, 72):
        shop.run(quiet + hours(after))
        shop.deliver(quiet + hours(after))
    assert [(s.state, s.at) for s in shop.ledger(cart_id)] == [
        ("sent", quiet + hours(1)),
        ("sent", quiet + hours(24)),
        ("sent", quiet + hours(72)),
    ]


def test_overdue_steps_are_skipped_and_the_ledger_says_why(shop, quiet_cart):
    """The scheduler was down (or the cart arrived late): only the latest due step goes
    out; the earlier ones are recorded as skipped, before and after the run."""
    cart_id, quiet = quiet_cart(hours_ago=200)
    late = quiet + hours(30)  # steps 1 (1 h) and 2 (24 h) are both overdue
    assert states(shop.ledger(cart_id, now=late)) == [
        (1, "to_skip", None, "step 2 is already due"),
        (2, "scheduled", late, None),
        (3, "scheduled", late + hours(48), None),  # its spacing after step 2
    ]
    assert shop.run(late).by_step == {2: 1}
    shop.deliver(late)
    assert states(shop.ledger(cart_id, now=late)) == [
        (1, "skipped", late, "step 2 was already due"),
        (2, "sent", late, None),
        (3, "scheduled", late + hours(48), None),
    ]
    assert [(a.step, a.skipped_for) for a in shop.steps(cart_id)] == [(1, 2), (2, None)]
    assert [m.dedupe_key for m in shop.outbox(cart_id)] == [f"recovery:{cart_id}:2"]


def test_an_unsubscribed_address_blocks_the_rest(app, client, shop, quiet_cart):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    with app.app_context():
        recovery.unsubscribe("ada@example.com", Actor("customer", None, "ada@example.com"))
        db.session.commit()
    reason = f"unsubscribed on {day(app, utcnow())}"
    assert states(shop.ledger(cart_id)) == [
        (1, "sent", quiet + hours(1), None),
        (2, "blocked", None, reason),
        (3, "blocked", None, reason),
    ]


def test_an_order_since_the_last_activity_blocks_the_rest(app, shop, quiet_cart, storefront):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    shop.run(quiet + hours(1))
    placed = quiet + hours(3)
    response = storefront.post_order(
        number="SHOP-5", email="ada@example.com", placed_at=as_utc(placed).isoformat()
    )
    assert response.status_code == 201
    reason = f"bought order SHOP-5 on {day(app, placed)}"
    assert [s.reason for s in shop.ledger(cart_id)] == [None, reason, reason]


def test_a_converted_cart_names_its_order(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    shop.run(quiet + hours(1))
    with app.app_context():
        order = convert_to_order(db.session.get(IncompleteOrder, cart_id), Actor.system("test"))
        db.session.commit()
        number = order.number
    assert [s.reason for s in shop.ledger(cart_id)] == [
        None,
        f"converted into order {number}",
        f"converted into order {number}",
    ]


def test_closed_or_small_carts_say_why(app, shop, quiet_cart, monkeypatch):
    expired, _ = quiet_cart(status="expired")
    no_email, _ = quiet_cart(email=None)
    assert shop.ledger(expired)[0].reason.startswith("expired on ")
    assert shop.ledger(no_email)[0].reason == "no email address"
    monkeypatch.setitem(app.config, "RECOVERY_MIN_CART_VALUE", 10_000)
    small, _ = quiet_cart()
    assert shop.ledger(small)[0].reason == "cart value below the minimum worth an email"


def test_the_detail_page_shows_the_ledger(app, client, login, shop, quiet_cart):
    login("agent")
    cart_id, quiet = quiet_cart(hours_ago=5)
    shop.run(quiet + hours(1))
    with app.app_context():
        queued = shop_time(quiet + hours(1))
        sent = shop_time(quiet + hours(2))
        due = shop_time(quiet + hours(25))
    page = client.get(f"/incomplete-orders/{cart_id}")
    assert page.status_code == 200
    assert f"Queued {queued}, waiting in the outbox" in page.text
    assert "Scheduled 23 hours after step 1 goes out" in page.text
    shop.deliver(quiet + hours(2))
    page = client.get(f"/incomplete-orders/{cart_id}")
    assert f"Sent {sent}" in page.text
    assert f"Scheduled for {due}" in page.text
    assert "Send next step now" in page.text and ">Pause<" in page.text

    assert client.post(f"/incomplete-orders/{cart_id}/recovery/pause").status_code == 302
    page = client.get(f"/incomplete-orders/{cart_id}")
    paused = f"paused by agent@example.com on {day(app, utcnow())}"
    assert page.text.count(f"Not sent: {paused}") == 2
    assert f"Sent {sent}" in page.text
    assert ">Resume<" in page.text and "Send next step now" not in page.text
