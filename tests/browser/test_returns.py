"""A return from the desk's side, in a real browser: a request the storefront submitted is
approved for fewer items than asked, received with one damaged, completed with the
computed refund, and each email to the customer is read in the outbox."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboard.extensions import db
from tests.browser.layout import sideways_scroll
from tests.factories import items, order_body, storefront_order

pytestmark = pytest.mark.browser

CUSTOMER = "ines.koch@example.com"


def days_ago(n):
    return (datetime.now(UTC) - timedelta(days=n)).isoformat()


@pytest.fixture
def submitted_request(storefront, return_settings):
    """An order delivered two days ago and the customer's request for all of it: its number."""
    order = storefront.post(
        "/orders",
        json=order_body(
            number="SHOP-7001",
            email=CUSTOMER,
            name="Ines Koch",
            total=6000,
            placed_at=days_ago(5),
            delivered_at=days_ago(2),
            items=items(("SHIRT-NAV-M", 2, 2500), ("MUG-SND", 1, 1000)),
        ),
    )
    assert order.status_code == 201, order.json
    response = storefront.post(
        "/return-requests",
        json={
            "order_number": "SHOP-7001",
            "email": CUSTOMER,
            "type": "return",
            "reason": "size_or_fit",
            "comment": "Both shirts are too small",
            "items": [{"sku": "SHIRT-NAV-M", "quantity": 2}, {"sku": "MUG-SND", "quantity": 1}],
        },
    )
    assert response.status_code == 201, response.json
    return response.json["number"]


def test_agent_approves_part_receives_one_damaged_completes_and_reads_the_emails(
    page, console_errors, sign_in, make_staff, submitted_request
):
    make_staff("agent")
    sign_in()
    number = submitted_request

    # The queue: pending, oldest first; the storefront's request is there.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Returns").click()
    row = page.locator("tbody tr", has_text=number)
    expect(row).to_contain_text(CUSTOMER)
    expect(row).to_contain_text("Pending")
    row.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(number)
    expect(page.locator("tr.eligibility").first).to_contain_text("Returns are possible until")

    # Approve one of the two shirts, and the mug.
    page.get_by_label("Product SHIRT-NAV-M (of 2)").fill("1")
    page.locator("#approve-note").fill("One shirt is from a sale and stays with you.")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text(
        "is approved; the customer is told by email."
    )
    expect(page.get_by_role("group", name="The parcel arrived")).to_be_visible()

    # The parcel: the shirt as approved, the mug broken.
    page.get_by_label("damaged", exact=True).last.fill("1")
    page.get_by_role("button", name="Mark received").click()
    expect(page.locator("body")).to_contain_text(f"The parcel for {number} is marked received.")
    mug = page.locator("table.return-lines tbody tr", has_text="MUG-SND").first
    expect(mug.locator("td").nth(4)).to_have_text("1")  # damaged
    expect(page.get_by_role("group", name="Record the refund")).to_be_visible()
    expect(page.locator("#actions")).to_contain_text("€35.00")

    page.get_by_label("How it was refunded").select_option("original_payment")
    page.get_by_label("Payment system's reference").fill("re_7001")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("body")).to_contain_text(f"{number} is completed")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".timeline-entry.kind-email")).to_have_count(4)
    expect(timeline).to_contain_text("One shirt is from a sale and stays with you.")

    # The customer's four emails, in the outbox.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outbox").click()
    rows = page.locator("tbody tr", has_text=CUSTOMER)
    expect(rows).to_have_count(4)
    page.get_by_role("link", name=f"Your return request {number} is approved").click()
    approved = page.frame_locator("iframe.email-preview")
    expect(approved.get_by_text("One shirt is from a sale and stays with you.")).to_be_visible()
    page.go_back()
    page.get_by_role("link", name=f"Your return {number} is complete").click()
    expect(page.locator("pre.email-text")).to_contain_text("€35.00")
    expect(page.locator("pre.email-text")).to_contain_text("re_7001")

    assert console_errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_returns_pages_fit_the_screen(page, sign_in, make_staff, submitted_request, width):
    make_staff("agent")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in()
    for path in ("/returns/?status=any", None):
        if path:
            page.goto(path)
        else:
            page.locator("tbody tr").first.get_by_role("link").first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text(submitted_request)
        overflow = sideways_scroll(page)
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at {width}px"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_manager_records_a_late_return_with_an_override_from_the_order(
    page, sign_in, make_staff, app, return_settings, width
):
    """A customer phones after the return window: an agent is refused, a manager records it
    with the override and a note, and the request's page says who let it through and why."""
    with app.app_context():
        order = storefront_order((("COAT-1", 1, 12000),), days_ago=90, email="late@example.com")
        db.session.commit()
        order_id, number = order.id, order.number
    make_staff("manager")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in("manager@example.com")
    page.goto(f"/orders/{order_id}")
    page.get_by_role("link", name="New return request").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(page.locator("tr.eligibility")).to_contain_text(
        f"The return window for order {number} ended on"
    )
    page.get_by_label("How many of Product COAT-1").fill("1")
    page.get_by_label("Reason", exact=True).select_option("changed_mind")
    page.get_by_label("Override (manager): outside the return window").check()
    page.get_by_role("button", name="Record the request").click()
    expect(page.locator("body")).to_contain_text("Say in a note why the rule is overridden.")
    page.get_by_label("Why the rules are overridden").fill("Was in hospital; approved by phone.")
    page.get_by_role("button", name="Record the request").click()
    expect(page.locator("body")).to_contain_text("the customer is told by email")
    line = page.locator("tr.eligibility").first
    expect(line).to_contain_text("Overridden by manager@example.com (outside the return window)")
    expect(line).to_contain_text("Was in hospital; approved by phone.")
    expect(page.locator("#timeline")).to_contain_text("Eligibility rule overridden")
    overflow = sideways_scroll(page)
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at {width}px"
