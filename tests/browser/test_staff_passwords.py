"""A temporary password in a real browser, with CSRF on: a manager sets it from /staff/,
the colleague signs in with it, is sent to choose their own and cannot leave until they
have, then reaches the list they asked for."""

import pytest
from playwright.sync_api import expect

from tests.browser.layout import sideways_scroll
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

TEMPORARY = "temporary-tulip-42"
OWN = "my-own-lantern-river"


def _sign_in(page, email, password):
    page.goto("/login?next=/incomplete-orders/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_temporary_password_is_replaced_at_the_first_sign_in(
    browser, live_server, page, make_staff, console_errors
):
    make_staff("manager")
    make_staff("agent", "ada@example.com")

    _sign_in(page, "manager@example.com", PASSWORD)
    page.wait_for_url("**/incomplete-orders/**")
    page.goto("/staff/")
    row = page.get_by_role("row", name="ada@example.com")
    row.get_by_role("link", name="Temporary password…").click()
    expect(
        page.get_by_role("heading", name="Set a temporary password for ada@example.com")
    ).to_be_visible()
    page.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    page.get_by_label("Temporary password again").fill(TEMPORARY)
    page.get_by_role("button", name="Set the temporary password").click()
    expect(page.get_by_text("ada@example.com has a temporary password now")).to_be_visible()
    expect(page.get_by_role("row", name="ada@example.com")).to_contain_text(
        "to be changed at sign-in"
    )

    ada = browser.new_context(base_url=live_server).new_page()
    _sign_in(ada, "ada@example.com", TEMPORARY)
    expect(ada.get_by_role("heading", name="Choose a new password")).to_be_visible()
    # Every other page leads back here until the password is chosen.
    ada.goto("/orders/")
    expect(ada.get_by_role("heading", name="Choose a new password")).to_be_visible()

    ada.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    ada.get_by_label("New password", exact=True).fill("password1234")
    ada.get_by_label("New password again").fill("password1234")
    ada.get_by_role("button", name="Save my new password").click()
    expect(ada.get_by_text("one of the first that anyone guessing would try")).to_be_visible()

    ada.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    ada.get_by_label("New password", exact=True).fill(OWN)
    ada.get_by_label("New password again").fill(OWN)
    ada.get_by_role("button", name="Save my new password").click()
    ada.wait_for_url("**/orders/")
    expect(ada.get_by_text("Your password is changed.")).to_be_visible()
    ada.goto("/incomplete-orders/")
    expect(ada.get_by_role("heading", name="Incomplete orders")).to_be_visible()
    ada.context.close()
    assert console_errors == []


def test_the_password_pages_fit_a_phone(page, sign_in, make_staff):
    make_staff("manager")
    agent_id = make_staff("agent", "ada@example.com")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in("manager@example.com")
    for path in (f"/staff/{agent_id}/password", "/account/password", "/staff/"):
        page.goto(path)
        overflow = sideways_scroll(page)
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px on a 390 px screen"
    page.goto(f"/staff/{agent_id}/password")
    expect(page.get_by_role("button", name="Set the temporary password")).to_be_in_viewport()
