"""The pages a shop's customers reach from an email, on a 390 px phone: the shop's name
(never the tool's), nothing wider than the screen, and an unsubscribe link that knows it
was used already and offers the way back."""

import pytest
from playwright.sync_api import expect

from dashboard.recovery.tokens import unsubscribe_token
from tests.browser.layout import sideways_scroll

pytestmark = pytest.mark.browser

SHOP = "Lindgren Home"


def _fits_and_names_the_shop(page):
    overflow = sideways_scroll(page)
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px on a 390 px screen"
    assert SHOP in page.title() and "Reclaim" not in page.title()
    expect(page.locator("body")).to_contain_text(SHOP)
    expect(page.locator("body")).not_to_contain_text("Reclaim")


def test_unsubscribe_again_and_subscribe_again_on_a_phone(app, page, console_errors, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_NAME", SHOP)
    with app.app_context():
        token = unsubscribe_token("mara@example.com")
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"/u/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop cart reminders?")
    _fits_and_names_the_shop(page)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    _fits_and_names_the_shop(page)

    page.goto(f"/u/{token}")  # the link opened again
    expect(page.get_by_role("heading", level=1)).to_have_text("You are already unsubscribed")
    _fits_and_names_the_shop(page)
    page.get_by_role("button", name="Send me cart reminders again").click()
    expect(page.locator("body")).to_contain_text("mara@example.com")
    _fits_and_names_the_shop(page)

    page.goto("/r/not-a-real-token")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    _fits_and_names_the_shop(page)
    assert console_errors == []
