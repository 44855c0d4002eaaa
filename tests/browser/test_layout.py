"""Every staff page on a 390 px phone: the menu folds behind a button, nothing runs off
the screen sideways."""

import pytest
from playwright.sync_api import expect

from tests.browser.layout import sideways_scroll

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/incomplete-orders/",
    "/orders/",
    "/outbox/",
    "/jobs/",
    "/jobs/recovery/run",
    "/audit/",
    "/staff/",
    "/api-keys/",
    "/account/password",
]


def test_staff_pages_fit_a_phone_and_the_menu_folds(
    page, console_errors, sign_in, make_staff, make_incomplete_order
):
    make_staff("manager")
    make_incomplete_order(name="Ada Lovelace-Byron", email="ada.lovelace.byron@example.com")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in("manager@example.com")

    for path in PAGES:
        page.goto(path)
        overflow = sideways_scroll(page)
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px on a 390 px screen"

    menu = page.get_by_role("navigation", name="Main")
    orders = menu.get_by_role("link", name="Orders", exact=True)
    expect(orders).to_be_hidden()
    toggle = menu.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    orders.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
    assert console_errors == []


def test_the_menu_is_one_row_on_a_laptop(page, sign_in, make_staff):
    make_staff("manager")
    sign_in("manager@example.com")
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("button", name="Menu")).to_be_hidden()
    expect(menu.get_by_role("link", name="Audit log")).to_be_visible()


def test_a_second_page_takes_its_stylesheets_and_scripts_from_the_browsers_cache(
    page, console_errors, sign_in, make_staff
):
    make_staff("agent")
    asked = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if "/static/" in request.url else None,
    )
    sign_in()
    page.goto("/incomplete-orders/")
    assert any("/static/app.css?v=" in url for url in asked), asked
    asked.clear()
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Orders", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
    page.wait_for_load_state("load")
    served = page.evaluate(
        """() => performance.getEntriesByType('resource')
            .filter(entry => entry.name.includes('/static/app.'))
            .map(entry => [entry.name, entry.transferSize])"""
    )
    assert served and all(size == 0 for _, size in served), served  # from the cache
    assert console_errors == []
