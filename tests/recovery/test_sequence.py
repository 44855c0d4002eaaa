"""The recovery sequence over simulated time: three emails at 1 h, 24 h and 72 h after the
cart's last activity, each delivered once to a real SMTP server, then nothing more."""

import re

from flask import current_app

from dashboard.timeutil import utcnow
from tests.recovery.conftest import deliver, hours, last_activity, outbox, run, sent_steps

SUBJECTS = {
    1: "You left something in your cart",
    2: "Your cart is still waiting for you",
    3: "Last reminder: your cart at Reclaim Demo Shop",
}


def _link(text, path):
    base = re.escape(current_app.config["PUBLIC_BASE_URL"].rstrip("/"))
    match = re.search(rf"{base}/{path}/[\w.-]+", text)
    assert match, f"no /{path}/ link in {text!r}"
    return match.group(0)


def _assert_recovery_email(message, to, step):
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
    restore = _link(text, "r")
    unsubscribe = _link(text, "u")
    assert f'href="{restore}"' in html and f'href="{unsubscribe}"' in html
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_three_steps_go_out_at_1_24_and_72_hours_then_nothing_more(
    ctx, make_incomplete_order, smtp_server
):
    cart_id = make_incomplete_order(
        snapshot_at=utcnow() - hours(100), email="ada@example.com", name="Ada"
    )
    quiet = last_activity(cart_id)
    schedule = [
        (hours(1) - hours(1) / 60, None),  # 59 minutes: too early
        (hours(1), 1),
        (hours(2), None),
        (hours(24) - hours(1) / 60, None),
        (hours(24), 2),
        (hours(48), None),
        (hours(72) - hours(1) / 60, None),
        (hours(72), 3),
        (hours(96), None),
        (hours(24 * 30), None),
    ]
    delivered = 0
    for after, step in schedule:
        now = quiet + after
        result = run(now)
        assert result.by_step == ({step: 1} if step else {}), f"at +{after}"
        if step:
            (message,) = [m for m in outbox(cart_id) if m.dedupe_key.endswith(f":{step}")]
            assert message.status == "queued"
            assert message.dedupe_key == f"recovery:{cart_id}:{step}"
        assert deliver(now) == {"sent": 1 if step else 0, "retry": 0, "failed": 0}
        delivered += 1 if step else 0
        assert len(smtp_server.messages) == delivered  # each email arrives when it is sent

    assert sent_steps(cart_id) == [(1, quiet + hours(1)), (2, quiet + hours(24)), (3, quiet + hours(72))]
    rows = outbox(cart_id)
    assert [(m.dedupe_key, m.status, m.attempts) for m in rows] == [
        (f"recovery:{cart_id}:{step}", "sent", 1) for step in (1, 2, 3)
    ]
    assert all(m.sent_at is not None and m.last_error is None for m in rows)
    assert len(smtp_server.received) == 3
    for step, (sender, recipients, message) in enumerate(smtp_server.received, start=1):
        assert sender == "shop@example.com" and recipients == ["ada@example.com"]
        _assert_recovery_email(message, "ada@example.com", step)
    message_ids = {message["Message-ID"] for message in smtp_server.messages}
    assert len(message_ids) == 3


def test_a_cart_found_long_after_it_went_quiet_gets_one_step_per_run(ctx, make_incomplete_order):
    cart_id = make_incomplete_order(snapshot_at=utcnow() - hours(24 * 10))
    quiet = last_activity(cart_id)
    late = quiet + hours(24 * 9)

    assert run(late).by_step == {1: 1}
    assert run(late).sent == 0
    # Later steps keep their spacing after the previous email, not only after the activity.
    assert run(late + hours(23) - hours(1) / 60).sent == 0
    assert run(late + hours(23)).by_step == {2: 1}
    assert run(late + hours(23 + 48) - hours(1) / 60).sent == 0
    assert run(late + hours(23 + 48)).by_step == {3: 1}
    assert [step for step, _ in sent_steps(cart_id)] == [1, 2, 3]


def test_each_step_has_its_own_words_and_restore_link(ctx, make_incomplete_order):
    cart_id = make_incomplete_order(snapshot_at=utcnow() - hours(100))
    quiet = last_activity(cart_id)
    for after in (1, 24, 72):
        run(quiet + hours(after))
    rows = outbox(cart_id)
    assert [m.subject for m in rows] == [SUBJECTS[1], SUBJECTS[2], SUBJECTS[3]]
    assert "you left these items in your cart" in rows[0].body_text
    assert "this is our last reminder" in rows[2].body_text
    restore_links = {_link(m.body_text, "r") for m in rows}
    assert len(restore_links) == 3  # each link names its step, so a click is credited to it
    assert len({_link(m.body_text, "u") for m in rows}) == 1
