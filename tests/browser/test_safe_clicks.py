"""Clicks that are safe, in a real browser with CSRF on: a cancelled cart reopened, "Run now"
previewed before it runs, a new API key shown once (a reload makes no second one), and a
bulk send that keeps the manual gap unless the agent says "send anyway"."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from dashboard.api_keys.models import ApiKey
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.models import OutboxMessage
from dashboard.timeutil import utcnow
from tests.helpers import wait_for

pytestmark = pytest.mark.browser


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _cart(app, cart_id):
    with app.app_context():
        return db.session.get(IncompleteOrder, cart_id)


def test_cancel_asks_first_and_a_cancelled_cart_can_be_reopened(
    app, page, console_errors, sign_in, make_staff, make_incomplete_order
):
    make_staff("agent")
    cart_id = make_incomplete_order(name="Mara Lindgren")
    sign_in()
    page.goto(f"/incomplete-orders/{cart_id}")

    page.get_by_role("link", name="Cancel…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel the cart of Mara Lindgren?")
    keep = page.get_by_role("link", name="Keep the cart open")
    expect(keep).to_be_focused()  # a stray Enter keeps it
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/incomplete-orders/{cart_id}$"))
    assert _cart(app, cart_id).status == "open"

    page.get_by_role("link", name="Cancel…").click()
    page.get_by_role("button", name="Cancel the cart").click()
    expect(page.get_by_role("status")).to_contain_text("Cancelled")
    assert _cart(app, cart_id).status == "cancelled"

    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("status")).to_contain_text("Reopened")
    assert _cart(app, cart_id).status == "open"
    assert console_errors == []


def test_run_now_shows_its_preview_and_runs_only_from_the_confirm(
    app, page, console_errors, sign_in, make_staff, make_incomplete_order
):
    make_staff("manager")
    quiet = utcnow() - timedelta(hours=3)
    for n in range(3):
        make_incomplete_order(email=f"due{n}@example.com", snapshot_at=quiet)
    make_incomplete_order(email="june@example.com", snapshot_at=utcnow() - timedelta(days=90))
    sign_in("manager@example.com")
    page.goto("/jobs/")

    page.locator("section", has_text="Recovery emails").get_by_role("link", name="Run now…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run recovery emails now?")
    expect(page.get_by_text("A run now would queue 3 recovery emails")).to_be_visible()
    for n in range(3):
        expect(page.get_by_role("cell", name=f"due{n}@example.com")).to_be_visible()
    expect(page.get_by_text("june@example.com")).to_have_count(0)  # outside the window
    assert _count(app, OutboxMessage) == 0

    page.get_by_role("button", name="Run recovery emails now").click()
    expect(page).to_have_url(re.compile(r"/jobs/$"))
    expect(page.locator("body")).to_contain_text("by manager@example.com")
    # The run goes on in a thread of its own after the redirect: its emails follow.
    wait_for(lambda: _count(app, OutboxMessage) == 3, 10, "the run to queue 3 emails")
    assert _count(app, OutboxMessage) == 3
    assert console_errors == []


def test_a_new_api_key_is_shown_once_and_a_reload_makes_no_second_one(
    app, page, console_errors, sign_in, make_staff
):
    make_staff("manager")
    sign_in("manager@example.com")
    page.goto("/api-keys/")
    page.get_by_label("Name").fill("Storefront")
    page.get_by_role("button", name="Create key").click()

    key = page.get_by_label("The new API key")
    expect(key).to_be_visible()
    plaintext = key.input_value()
    assert len(plaintext) > 20
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    page.reload()
    expect(page.get_by_label("The new API key")).to_have_count(0)  # shown once only
    assert _count(app, ApiKey) == 1
    assert plaintext not in page.content()
    assert console_errors == []


def test_bulk_send_keeps_the_manual_gap_unless_send_anyway(
    app, page, console_errors, sign_in, make_staff, make_incomplete_order
):
    make_staff("agent")
    recent = utcnow() - timedelta(minutes=10)
    fresh = make_incomplete_order(email="fresh@example.com", snapshot_at=recent)
    emailed = make_incomplete_order(email="emailed@example.com", snapshot_at=recent)
    with app.app_context():
        cart = db.session.get(IncompleteOrder, emailed)
        cart.recovery_attempts, cart.recovery_last_sent_at = 1, utcnow() - timedelta(hours=2)
        db.session.commit()
    sign_in()
    page.goto("/incomplete-orders/?status=open")
    for cart_id in (fresh, emailed):
        page.locator(f'input[name="ids"][value="{cart_id}"]').check()
    page.get_by_role("button", name="Send next email…").click()

    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Send the next recovery email to 1 incomplete order?")
    expect(confirm).to_contain_text("emailed in the last 12 hours")
    expect(confirm.get_by_role("link", name="Keep them as they are")).to_be_focused()
    confirm.get_by_role("button", name=re.compile("send anyway")).click()
    expect(confirm).to_contain_text("Send the next recovery email to 2 incomplete orders?")
    expect(confirm).to_contain_text("The audit log records it.")
    confirm.get_by_role("button", name="Send 2").click()
    expect(page.locator("#bulk-slot")).to_contain_text(
        "Queued the next recovery email for 2 incomplete orders."
    )
    with app.app_context():
        keys = sorted(db.session.scalars(select(OutboxMessage.dedupe_key)))
    assert keys == sorted([f"recovery:{fresh}:1", f"recovery:{emailed}:2"])
    assert console_errors == []
