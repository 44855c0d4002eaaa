"""The rules of the sequence, defined once: every "never" is both not sent and explained,
by the run, the delivery check, the ledger and "send the next step now" alike."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.recovery import service
from dashboard.recovery.models import Suppression
from dashboard.recovery.rules import NEVERS, RecoverySettings, why_not, why_not_now
from dashboard.timeutil import utcnow
from tests.factories import hours

AGENT = Actor("staff", None, "agent@example.com")


def _closed(app, shop, cart_id, quiet):
    shop.update_cart(cart_id, status="expired", status_changed_at=quiet)


def _no_email(app, shop, cart_id, quiet):
    shop.update_cart(cart_id, email=None)


def _below_minimum(app, shop, cart_id, quiet):
    app.config["RECOVERY_MIN_CART_VALUE"] = 1_000_000


def _too_old(app, shop, cart_id, quiet):
    shop.update_cart(cart_id, last_activity_at=quiet - hours(24 * 8))


def _paused(app, shop, cart_id, quiet):
    shop.update_cart(cart_id, recovery_paused_at=quiet, recovery_paused_by="agent@example.com")


def _unsubscribed(app, shop, cart_id, quiet):
    with app.app_context():
        db.session.add(Suppression(email=shop.cart(cart_id).email, created_at=quiet))
        db.session.commit()


def _bought(app, shop, cart_id, quiet):
    email = shop.cart(cart_id).email
    with app.app_context():
        db.session.add(
            Order(
                number="SHOP-1",
                source="storefront",
                currency="EUR",
                total=1000,
                email=email,
                placed_at=quiet + hours(0.5),
            )
        )
        db.session.commit()


def _held_out(app, shop, cart_id, quiet):
    shop.update_cart(cart_id, recovery_holdout=True)


def _all_sent(app, shop, cart_id, quiet):
    shop.update_cart(cart_id, recovery_attempts=3, recovery_last_sent_at=quiet)


CASES = {
    "closed": (_closed, "expired on "),
    "no_email": (_no_email, "no email address"),
    "below_minimum": (_below_minimum, "cart value below the minimum worth an email"),
    "too_old": (_too_old, "too old: last active "),
    "paused": (_paused, "paused by agent@example.com on "),
    "unsubscribed": (_unsubscribed, "unsubscribed on "),
    "bought": (_bought, "bought order SHOP-1 on "),
    "held_out": (_held_out, "held out to measure recovery"),
    "all_sent": (_all_sent, "all steps sent"),
}


def test_every_rule_has_a_case():
    assert {never.name for never in NEVERS} == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_every_never_is_not_sent_and_explained(app, shop, quiet_cart, name, monkeypatch):
    monkeypatch.setitem(app.config, "RECOVERY_MIN_CART_VALUE", 0)
    make_it_so, reason = CASES[name]
    cart_id, quiet = quiet_cart()
    make_it_so(app, shop, cart_id, quiet)

    # The run sends nothing, at any time later.
    for later in (1, 24, 72, 150):
        assert shop.run(quiet + hours(later)).sent == 0
    assert shop.outbox(cart_id) == []
    # The ledger says why, for every step not sent.
    ledger = shop.ledger(cart_id)
    unsent = [step for step in ledger if step.state != "sent"]
    state = "held_out" if name == "held_out" else "blocked"  # the ledger says it its own way
    assert unsent and all(step.state == state for step in unsent)
    assert all(step.reason.startswith(reason) for step in unsent), [s.reason for s in unsent]
    # "Send the next step now" sends nothing either, and gives the same reason.
    with app.app_context():
        order = db.session.get(IncompleteOrder, cart_id)
        settings = RecoverySettings.from_config()
        assert why_not(order, settings).startswith(reason)
        assert why_not_now(order, settings).startswith(reason)
        assert service.queue_next_step_now(AGENT, IncompleteOrder.id == cart_id) == 0
        db.session.rollback()


@pytest.mark.parametrize("name", [n.name for n in NEVERS if n.at_delivery])
def test_an_email_queued_before_a_never_is_withdrawn_with_the_reason(app, shop, quiet_cart, name):
    make_it_so, reason = CASES[name]
    cart_id, quiet = quiet_cart()
    assert shop.run(quiet + hours(1)).sent == 1
    make_it_so(app, shop, cart_id, quiet)

    assert shop.deliver()["withdrawn"] == 1
    (message,) = shop.outbox(cart_id)
    assert message.status == "withdrawn" and message.last_error.startswith(reason)


def test_sending_now_waits_for_the_previous_email_then_the_manual_gap(app, shop, quiet_cart):
    """A person's send: never while the previous email waits in the outbox, not within
    RECOVERY_MANUAL_MIN_GAP_HOURS (12) of it unless "send anyway", and never twice in a
    minute even then; the audit event says which."""
    cart_id, _ = quiet_cart()

    def send(now, send_anyway=False):
        with app.app_context():
            queued = service.queue_next_step_now(
                AGENT, IncompleteOrder.id == cart_id, now=now, send_anyway=send_anyway
            )
            db.session.commit()
            order = db.session.get(IncompleteOrder, cart_id)
            reason = why_not_now(order, RecoverySettings.from_config(), now, send_anyway)
            return queued, reason

    now = utcnow()
    assert send(now)[0] == 1
    queued, reason = send(now + timedelta(seconds=5))
    assert queued == 0 and reason.startswith("step 1 is waiting in the outbox (queued ")
    shop.deliver(now + timedelta(minutes=1))

    later = now + hours(3)
    queued, reason = send(later)
    assert queued == 0
    assert reason.startswith("step 1 went out ") and reason.endswith("less than 12 hours ago")
    assert send(now + timedelta(minutes=1, seconds=30), send_anyway=True)[0] == 0  # a minute
    assert send(later, send_anyway=True)[0] == 1
    assert [a.step for a in shop.steps(cart_id)] == [1, 2]
    manual = [e.details for e in shop.events("recovery.send")]
    assert manual[0].get("manual") and not manual[0].get("send_anyway")
    assert manual[1] == {**manual[1], "manual": True, "send_anyway": True, "step": 2}


def test_sending_now_only_flushes_the_request_commits(app, shop, quiet_cart):
    cart_id, _ = quiet_cart()
    with app.app_context():
        assert service.queue_next_step_now(AGENT, IncompleteOrder.id == cart_id) == 1
        db.session.rollback()  # the request failed after it: nothing may stay
    assert shop.steps(cart_id) == [] and shop.outbox(cart_id) == []
    assert shop.cart(cart_id).recovery_attempts == 0


def test_hours_after_shifts_the_whole_sequence(app):
    with app.test_request_context():
        settings = RecoverySettings.from_config(hours_after=100)
    assert settings.delays == (hours(100), hours(123), hours(171))
    assert settings.spacing(1, 2) == hours(23) and settings.spacing(2, 3) == hours(48)
    assert settings.spacing(1, 3) == hours(71)


def test_with_hours_after_100_step_two_waits_its_spacing_after_step_one(app, shop, quiet_cart):
    cart_id, quiet = quiet_cart(hours_ago=101)
    with app.app_context():
        settings = RecoverySettings.from_config(hours_after=100)
    now = utcnow()
    assert shop.run(now, settings=settings).by_step == {1: 1}
    shop.deliver(now)
    # The next runs, minutes later, send nothing: step 2 comes 23 hours after step 1.
    for minutes in (5, 10, 60):
        assert shop.run(now + timedelta(minutes=minutes), settings=settings).sent == 0
    assert shop.run(now + hours(23) + timedelta(minutes=1), settings=settings).by_step == {2: 1}
    assert [a.step for a in shop.steps(cart_id)] == [1, 2]


def test_the_cli_with_hours_after_100_spaces_the_steps(app, shop, quiet_cart, smtp_server):
    cart_id, _ = quiet_cart(hours_ago=101)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["send-recovery-emails", "--hours-after", "100"]).output.startswith(
        "queued: 1, step_1: 1,"
    )
    assert runner.invoke(args=["send-recovery-emails", "--hours-after", "100"]).output.startswith(
        "queued: 0,"
    )
    assert [a.step for a in shop.steps(cart_id)] == [1]


def test_orders_do_not_import_recovery():
    """Conversion announces itself (a signal); the orders domain knows nothing of recovery."""
    import subprocess
    import sys

    code = (
        "import sys, dashboard.orders.service; "
        "print([m for m in sys.modules if m.startswith('dashboard.recovery')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_conversion_credits_the_recovery_email_through_the_signal(app, shop, quiet_cart):
    from dashboard.orders.service import convert_to_order

    cart_id, quiet = quiet_cart()
    shop.run(quiet + hours(1))
    with app.app_context():
        for message in shop.outbox(cart_id):
            db.session.merge(message).status = "sent"
        db.session.commit()
        order = convert_to_order(db.session.get(IncompleteOrder, cart_id), Actor.system("test"))
        db.session.commit()
        assert db.session.scalar(select(Order.recovered_step).where(Order.id == order.id)) == 1


def test_no_email_to_a_cart_last_active_more_than_the_window_ago(shop, quiet_cart):
    """A scheduler down for days must not wake up and remind customers of June's carts."""
    fresh, _ = quiet_cart(hours_ago=2)
    week_old, _ = quiet_cart(hours_ago=24 * 7 - 1)
    stale, _ = quiet_cart(hours_ago=24 * 7 + 1)
    assert shop.run(utcnow()).sent == 2
    assert [a.step for a in shop.steps(fresh)] == [1]
    # Found late: only the last step goes out, the earlier ones are skipped.
    assert [(a.step, a.skipped_for) for a in shop.steps(week_old)] == [(1, 3), (2, 3), (3, None)]
    assert shop.steps(stale) == []
    (first, *_rest) = shop.ledger(stale)
    assert first.state == "blocked"
    assert first.reason.startswith("too old: last active ")
    assert first.reason.endswith("more than 7 days ago")
