"""The recovery sequence over simulated time: three emails at 1 h, 24 h and 72 h after the
cart's last activity, each delivered once to a real SMTP server, then nothing more."""

import re
from datetime import timedelta

from dashboard.recovery.tokens import read_restore_token, read_unsubscribe_token
from tests.factories import NOTHING, SETTINGS, hours

BASE_URL = SETTINGS["PUBLIC_BASE_URL"]
SUBJECTS = {
    1: "You left something in your cart",
    2: "Your cart is still waiting for you",
    3: "Last reminder: your cart at Reclaim Demo Shop",
}


def link(text, path):
    """The first absolute /r/… or /u/… link in an email body."""
    match = re.search(rf"{re.escape(BASE_URL)}/{path}/[\w.-]+", text)
    assert match, f"no /{path}/ link in {text!r}"
    return match.group(0)


def assert_recovery_email(message, to, step):
    assert message["To"] == to
    assert message["Subject"] == SUBJECTS[step]
    assert message["Message-ID"]
    # Flask-Mail wraps the text/HTML alternative in multipart/mixed.
    assert "multipart/alternative" in [part.get_content_type() for part in message.walk()]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Linen shirt" in body and "Belt" in body
        assert "€60.00" in body  # the total: 2 × 25.00 + 10.00
    assert "Linen shirt x 2" in text
    restore, unsubscribe = link(text, "r"), link(text, "u")
    assert f'href="{restore}"' in html and f'href="{unsubscribe}"' in html
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_three_steps_go_out_at_1_24_and_72_hours_then_nothing_more(
    app, shop, quiet_cart, smtp_server
):
    cart_id, quiet = quiet_cart(email="ada@example.com", name="Ada")
    minute = hours(1) / 60
    schedule = [
        (hours(1) - minute, None),
        (hours(1), 1),
        (hours(2), None),
        (hours(24) - minute, None),
        (hours(24), 2),
        (hours(48), None),
        (hours(72) - minute, None),
        (hours(72), 3),
        (hours(96), None),
        (hours(24 * 30), None),
    ]
    delivered = 0
    for after, step in schedule:
        now = quiet + after
        assert shop.run(now).by_step == ({step: 1} if step else {}), f"at +{after}"
        if step:
            (message,) = [m for m in shop.outbox(cart_id) if m.status == "queued"]
            assert message.dedupe_key == f"recovery:{cart_id}:{step}"
            assert shop.deliver(now) == {**NOTHING, "sent": 1}
            assert shop.message(message.id).status == "sent"
            delivered += 1
        else:
            assert shop.deliver(now) == NOTHING
        assert len(smtp_server.messages) == delivered  # each email arrives when it is sent

    assert [(a.step, a.sent_at) for a in shop.steps(cart_id)] == [
        (1, quiet + hours(1)),
        (2, quiet + hours(24)),
        (3, quiet + hours(72)),
    ]
    rows = shop.outbox(cart_id)
    assert [(m.dedupe_key, m.status, m.attempts) for m in rows] == [
        (f"recovery:{cart_id}:{step}", "sent", 1) for step in (1, 2, 3)
    ]
    assert all(m.sent_at is not None and m.last_error is None for m in rows)
    assert shop.cart(cart_id).recovery_attempts == 3
    for step, (sender, recipients, message) in enumerate(smtp_server.received, start=1):
        assert sender == app.extensions["mail"].default_sender
        assert recipients == ["ada@example.com"]
        assert_recovery_email(message, "ada@example.com", step)
    assert len({message["Message-ID"] for message in smtp_server.messages}) == 3


def test_a_cart_found_long_after_it_went_quiet_gets_only_the_latest_due_step(
    shop, quiet_cart, smtp_server
):
    """The scheduler was down for days, or the storefront reported the cart late: one
    email, the latest step due, never a burst of every step in a row."""
    cart_id, quiet = quiet_cart(hours_ago=24 * 5)
    late = quiet + hours(30)  # steps 1 and 2 are overdue, step 3 is not due yet
    assert shop.run(late).by_step == {2: 1}
    assert shop.run(late).sent == 0
    assert shop.deliver(late)["sent"] == 1
    assert [m["Subject"] for m in smtp_server.messages] == [SUBJECTS[2]]
    # Step 3 keeps its spacing after step 2 went out, not only after the activity.
    assert shop.run(late + hours(48) - hours(1) / 60).sent == 0
    assert shop.run(late + hours(48)).by_step == {3: 1}
    assert [(a.step, a.skipped_for) for a in shop.steps(cart_id)] == [
        (1, 2),
        (2, None),
        (3, None),
    ]
    assert [m.dedupe_key for m in shop.outbox(cart_id)] == [
        f"recovery:{cart_id}:2",
        f"recovery:{cart_id}:3",
    ]
    (event, _third) = shop.events("recovery.send")
    assert (event.details["step"], event.details["skipped_steps"]) == (2, 1)


def test_steps_wait_for_the_previous_email_to_go_out(shop, quiet_cart, smtp_server):
    """With the mail server down, step 1 waits in the outbox; step 2 is not queued behind
    it, and once step 1 goes out step 2 is timed from then: they arrive 1, 2, 3."""
    cart_id, quiet = quiet_cart(hours_ago=24 * 5)
    assert shop.run(quiet + hours(1)).by_step == {1: 1}
    smtp_server.stop()
    assert shop.deliver(quiet + hours(1))["retry"] == 1
    for later in (24, 30):
        assert shop.run(quiet + hours(later)).sent == 0  # step 1 still waits
    smtp_server.start()
    assert shop.deliver(quiet + hours(31))["sent"] == 1
    assert shop.run(quiet + hours(31)).sent == 0
    assert shop.run(quiet + hours(31 + 23)).by_step == {2: 1}
    shop.deliver(quiet + hours(31 + 23))
    assert shop.run(quiet + hours(31 + 23 + 48)).by_step == {3: 1}
    shop.deliver(quiet + hours(31 + 23 + 48))
    assert [m["Subject"] for m in smtp_server.messages] == [SUBJECTS[1], SUBJECTS[2], SUBJECTS[3]]


def test_delays_in_minutes_and_days(app, shop, quiet_cart, monkeypatch, smtp_server):
    monkeypatch.setitem(
        app.config, "RECOVERY_DELAYS", [timedelta(minutes=30), hours(24), timedelta(days=3)]
    )
    cart_id, quiet = quiet_cart(hours_ago=24 * 5)
    assert shop.run(quiet + timedelta(minutes=29)).sent == 0
    assert shop.run(quiet + timedelta(minutes=30)).by_step == {1: 1}
    shop.deliver(quiet + timedelta(minutes=30))
    assert shop.run(quiet + hours(24) - timedelta(minutes=1)).sent == 0
    assert shop.run(quiet + hours(24)).by_step == {2: 1}
    shop.deliver(quiet + hours(24))
    assert shop.run(quiet + timedelta(days=3)).by_step == {3: 1}
    shop.deliver(quiet + timedelta(days=3))
    assert len(smtp_server.messages) == 3


def test_each_step_has_its_own_words_and_restore_link(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    for after in (1, 24, 72):
        shop.run(quiet + hours(after))
        shop.deliver(quiet + hours(after))
    rows = shop.outbox(cart_id)
    assert [m.subject for m in rows] == [SUBJECTS[1], SUBJECTS[2], SUBJECTS[3]]
    assert "You left a few things in your cart" in rows[0].body_text
    assert "This is our last reminder" in rows[2].body_text
    with app.app_context():
        # Each restore link names its step, so a click is credited to the email it came in.
        targets = [read_restore_token(link(m.body_text, "r").rpartition("/")[2]) for m in rows]
        assert targets == [(cart_id, 1), (cart_id, 2), (cart_id, 3)]
        unsubscribes = {
            read_unsubscribe_token(link(m.body_text, "u").rpartition("/")[2]) for m in rows
        }
        assert unsubscribes == {"ada@example.com"}


def test_a_delivery_that_died_before_telling_the_cart_is_caught_up_by_the_next_run(
    shop, quiet_cart, smtp_server
):
    """The delivering process was killed after marking the email sent but before telling
    the cart: the next recovery run reads the outbox and the sequence goes on, timed from
    when the email actually went out."""
    cart_id, quiet = quiet_cart(hours_ago=24 * 5)
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(2))  # sent an hour late
    shop.update_cart(cart_id, recovery_queued_at=quiet + hours(1), recovery_last_sent_at=None)

    assert shop.run(quiet + hours(2) + hours(23) - hours(1) / 60).sent == 0
    cart = shop.cart(cart_id)
    assert cart.recovery_queued_at is None and cart.recovery_last_sent_at == quiet + hours(2)
    assert shop.run(quiet + hours(2) + hours(23)).by_step == {2: 1}
