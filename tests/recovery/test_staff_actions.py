"""Agents on an incomplete order's page: send the next step now, pause, resume — audited;
viewers may only look."""

import pytest

from tests.factories import hours


def recovery_url(cart_id, change):
    return f"/incomplete-orders/{cart_id}/recovery/{change}"


def test_send_next_confirms_what_goes_to_whom_then_queues_it(client, login, shop, quiet_cart):
    login("agent")
    cart_id, _ = quiet_cart(hours_ago=0.1, email="ada@example.com", name="Ada")
    assert shop.run(None).sent == 0  # six minutes quiet: nothing is due yet

    confirm = client.get(recovery_url(cart_id, "send-next")).text
    assert "Send step 1 to ada@example.com now?" in confirm
    assert "“You left something in your cart”" in confirm
    assert "No recovery email has gone to this cart yet." in confirm
    # The way back has the focus: a stray Enter sends nothing.
    assert f'href="/incomplete-orders/{cart_id}#recovery" autofocus' in confirm
    assert shop.outbox(cart_id) == []  # looking sends nothing

    response = client.post(recovery_url(cart_id, "send-next"))
    assert response.status_code == 302
    assert response.location.endswith(f"/incomplete-orders/{cart_id}#recovery")
    assert [(m.dedupe_key, m.status) for m in shop.outbox(cart_id)] == [
        (f"recovery:{cart_id}:1", "queued")
    ]
    page = client.get(f"/incomplete-orders/{cart_id}")
    assert "Step 1 is in the outbox for ada@example.com" in page.text

    # A double click sends nothing more, and says why.
    again = client.post(recovery_url(cart_id, "send-next"), follow_redirects=True)
    assert "No email was sent: step 1 is waiting in the outbox" in again.text
    assert [a.step for a in shop.steps(cart_id)] == [1]

    # Once it went out, the next one waits the manual gap (12 hours) unless "send anyway".
    shop.deliver()
    shop.a_minute_passes(cart_id)
    confirm = client.get(recovery_url(cart_id, "send-next")).text
    assert "Send step 2 to ada@example.com now?" in confirm
    assert "The last recovery email, step 1, went out on" in confirm
    assert "less than 12 hours ago" in confirm and 'name="send_anyway"' in confirm
    refused = client.post(recovery_url(cart_id, "send-next"), follow_redirects=True)
    assert "No email was sent: step 1 went out " in refused.text
    assert "less than 12 hours ago." in refused.text
    assert [a.step for a in shop.steps(cart_id)] == [1]

    sent = client.post(recovery_url(cart_id, "send-next"), data={"send_anyway": "y"})
    assert sent.status_code == 302
    assert [a.step for a in shop.steps(cart_id)] == [1, 2]
    events = shop.events("recovery.send")
    assert [(e.actor_label, e.details["step"], e.details.get("send_anyway")) for e in events] == [
        ("agent@example.com", 1, None),
        ("agent@example.com", 2, True),
    ]


def test_send_next_says_why_nothing_was_sent(client, login, shop, quiet_cart):
    login("agent")
    cart_id, _ = quiet_cart(hours_ago=0.1)
    assert client.post(recovery_url(cart_id, "pause")).status_code == 302

    confirm = client.get(recovery_url(cart_id, "send-next")).text
    assert "No recovery email can go to this cart now" in confirm
    assert "Paused by agent@example.com on" in confirm and "Send step 1</button>" not in confirm
    response = client.post(recovery_url(cart_id, "send-next"), follow_redirects=True)
    assert "No email was sent: paused by agent@example.com on" in response.text
    assert shop.outbox() == []

    assert client.post(recovery_url(cart_id, "resume")).status_code == 302
    for _ in range(3):
        client.post(recovery_url(cart_id, "send-next"), data={"send_anyway": "y"})
        shop.deliver()
        shop.a_minute_passes(cart_id)
    response = client.post(recovery_url(cart_id, "send-next"), follow_redirects=True)
    assert "No email was sent: all steps sent." in response.text
    assert len(shop.outbox(cart_id)) == 3


def test_pause_and_resume_are_audited_and_stop_and_restart_the_sequence(
    client, login, shop, quiet_cart
):
    login("agent")
    cart_id, quiet = quiet_cart(hours_ago=2)

    assert client.post(recovery_url(cart_id, "pause")).status_code == 302
    held = shop.cart(cart_id)
    assert held.recovery_paused_at is not None
    assert held.recovery_paused_by == "agent@example.com"
    assert shop.run(quiet + hours(2)).sent == 0
    client.post(recovery_url(cart_id, "pause"))  # pausing twice changes nothing
    (paused,) = shop.events("recovery.pause")
    assert (paused.actor_label, paused.record_id) == ("agent@example.com", cart_id)

    assert client.post(recovery_url(cart_id, "resume")).status_code == 302
    held = shop.cart(cart_id)
    assert held.recovery_paused_at is None and held.recovery_paused_by is None
    (resumed,) = shop.events("recovery.resume")
    assert (resumed.actor_label, resumed.record_id) == ("agent@example.com", cart_id)
    assert shop.run(quiet + hours(2)).by_step == {1: 1}


@pytest.mark.parametrize("change", ["pause", "resume", "send-next"])
def test_viewers_cannot_change_recovery(client, login, shop, quiet_cart, change):
    login("viewer")
    cart_id, _ = quiet_cart()
    assert client.post(recovery_url(cart_id, change)).status_code == 403
    held = shop.cart(cart_id)
    assert held.recovery_paused_at is None and held.recovery_attempts == 0
    assert shop.outbox() == []
    assert "Send next step now" not in client.get(f"/incomplete-orders/{cart_id}").text


def test_signed_out_visitors_are_sent_to_sign_in(client, shop, quiet_cart):
    cart_id, _ = quiet_cart()
    response = client.post(recovery_url(cart_id, "send-next"))
    assert response.status_code == 302 and "/login" in response.location
    assert shop.outbox() == []
