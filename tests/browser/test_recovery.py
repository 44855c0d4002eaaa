"""A recovery email from the agent's side, in a real browser: read a due cart's ledger,
send the next step now, and find the email in the outbox as the customer will see it."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dashboard.incomplete_orders.service import ItemSnapshot
from dashboard.outbox.delivery import deliver_due
from dashboard.recovery.tokens import read_restore_token
from dashboard.timeutil import utcnow

pytestmark = pytest.mark.browser

CUSTOMER = "mara.lindgren@example.com"
SUBJECT = "You left something in your cart"
RESTORE_LINK = re.compile(r"https?://[^\s\"']+/r/([^\s\"'/]+)")


@pytest.fixture
def due_cart(make_incomplete_order):
    """A cart quiet for three hours: its first recovery email is due."""
    return make_incomplete_order(
        name="Mara Lindgren",
        email=CUSTOMER,
        snapshot_at=utcnow() - timedelta(hours=3),
        items=[
            ItemSnapshot("SKU-LAMP", "Brass desk lamp", 1, 8900),
            ItemSnapshot("SKU-MUG", "Stoneware mug", 2, 1450),
        ],
    )


def test_agent_sends_the_next_step_now_and_reads_the_email_in_the_outbox(
    app, page, console_errors, sign_in, make_staff, due_cart
):
    make_staff("agent")
    sign_in()

    # The ledger: step 1 is due, so it is scheduled for now; the later steps follow it.
    page.goto(f"/incomplete-orders/{due_cart}")
    recovery = page.locator("#recovery")
    expect(recovery.get_by_role("heading", name="Recovery emails")).to_be_visible()
    steps = recovery.locator("li.ledger-step")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("Step 1")
    expect(steps.nth(0)).to_contain_text("Scheduled for")

    recovery.get_by_role("link", name="Send next step now").click()

    # The confirm step says what goes to whom; the focus is on the way back.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send step 1 to {CUSTOMER} now?")
    expect(page.get_by_text("No recovery email has gone to this cart yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Keep it as it is")).to_be_focused()
    page.get_by_role("button", name="Send step 1").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Step 1 is in the outbox for {CUSTOMER}; it goes out with the next delivery run."
    )
    expect(page).to_have_url(re.compile(rf"/incomplete-orders/{due_cart}#recovery$"))
    expect(steps.nth(0)).to_contain_text("waiting in the outbox")
    expect(steps.nth(1)).to_contain_text("Step 2")
    expect(steps.nth(1)).to_contain_text("Scheduled 23 hours after step 1 goes out")

    # Agents read the outbox: the email is there, queued, to be written when it goes out.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outbox").click()
    expect(page).to_have_url(re.compile(r"/outbox/$"))
    row = page.locator("tbody tr", has_text=CUSTOMER)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("queued")
    row.get_by_role("link", name="Step 1 reminder, written when it goes out").click()
    expect(page.get_by_role("status")).to_contain_text("This is how it reads now.")
    expect(
        page.frame_locator("iframe.email-preview").get_by_text("Brass desk lamp")
    ).to_be_visible()

    # The delivery job sends it (here: the console backend prints it, and says so); the
    # page now shows the email as it went out.
    with app.app_context():
        assert deliver_due()["printed"] == 1
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(page.locator(".badge", has_text="printed")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("no customer received it")
    expect(page.get_by_text("This is how it reads now.")).to_have_count(0)

    # As the customer sees it: the items and the button back to the cart.
    email = page.frame_locator("iframe.email-preview")
    expect(email.get_by_text("Brass desk lamp")).to_be_visible()
    expect(email.get_by_text("Stoneware mug × 2")).to_be_visible()
    button = email.get_by_role("link", name="Return to my cart")
    expect(button).to_be_visible()
    html_link = button.get_attribute("href")
    # The whole email, down to its unsubscribe footer, without scrolling inside the frame.
    frame = page.locator("iframe.email-preview")
    page.wait_for_function(
        "f => f.getBoundingClientRect().height >= f.contentDocument.documentElement.scrollHeight",
        arg=frame.element_handle(),
    )
    for width in (1400, 390):
        page.set_viewport_size({"width": width, "height": 900})
        footer = email.get_by_role("link", name="Unsubscribe")
        page.wait_for_function(
            "f => f.getBoundingClientRect().height >= f.contentDocument.documentElement.scrollHeight",
            arg=frame.element_handle(),
        )
        footer.scroll_into_view_if_needed()
        expect(footer).to_be_in_viewport()
    page.set_viewport_size({"width": 1400, "height": 900})

    # The text version carries the same restore link, for this cart's step 1.
    text = page.locator("pre.email-text")
    expect(text).to_contain_text("Return to your cart: ")
    expect(text).to_contain_text("Brass desk lamp")
    text_link = RESTORE_LINK.search(text.inner_text())
    assert text_link, "no restore link in the text version"
    assert text_link.group(0) == html_link
    with app.app_context():
        assert read_restore_token(text_link.group(1)) == (due_cart, 1)

    assert console_errors == []
