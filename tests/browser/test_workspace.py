"""The incomplete-orders workspace in a real browser, as a support agent lives it:
sign in, filter (htmx, pushed URLs, reload, back), search, select all matching and expire
in bulk, convert one order — with CSRF on, against SQLite or PostgreSQL."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.timeutil import utcnow
from tests.factories import PASSWORD
from tests.helpers import ARTIFACTS

pytestmark = pytest.mark.browser

LIST = "/incomplete-orders/"

# (stage, name, email); the five carts are what the agent expires in bulk.
CUSTOMERS = [
    ("cart", "Anna Berg", "anna.berg@example.com"),
    ("checkout", "Bruno Costa", "bruno.costa@example.net"),
    ("payment_failed", "Chiara Dietz", "chiara.dietz@example.org"),
    ("cart", "Dario Engel", "dario.engel@example.com"),
    ("checkout", "Elif Fischer", "elif.fischer@example.de"),
    ("cart", "Farid Gomez", "farid.gomez@example.com"),
    ("payment_failed", "Greta Hansen", "greta.hansen@example.org"),
    ("checkout", "Hugo Ito", "hugo.ito@example.net"),
    ("cart", "Ines Jovanovic", "ines.jovanovic@example.com"),
    ("checkout", "Jonas Kowalski", "jonas.kowalski@example.de"),
    ("cart", "Karin Lindqvist", "karin.lindqvist@example.se"),
    ("payment_failed", "Zelda Quirke", "zelda.quirke@example.ie"),
]


def _seed(make_incomplete_order, customers=CUSTOMERS):
    """One open incomplete order per customer, each active a minute after the previous."""
    start = utcnow() - timedelta(hours=3)
    return {
        email: make_incomplete_order(
            stage=stage, name=name, email=email, snapshot_at=start + timedelta(minutes=i)
        )
        for i, (stage, name, email) in enumerate(customers)
    }


def _rows(page):
    return page.locator("#io-table tbody tr")


def _count(page):
    return page.locator("#io-table [data-list-count]")


def _is_fragment_request(request):
    return urlsplit(request.url).path == LIST and request.headers.get("hx-request") == "true"


def _wait_for_htmx(page):
    """Until no htmx request is in flight and the last swap has settled."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _query(url):
    return parse_qs(urlsplit(url).query)


def _statuses(app, ids):
    with app.app_context():
        rows = db.session.execute(
            select(IncompleteOrder.id, IncompleteOrder.status).where(IncompleteOrder.id.in_(ids))
        ).all()
        return dict(rows)


def test_agent_filters_searches_expires_in_bulk_and_converts(
    app, page, console_errors, sign_in, make_staff, make_incomplete_order, monkeypatch
):
    agent_id = make_staff("agent")
    ids = _seed(make_incomplete_order)
    cart_ids = {ids[email] for stage, _, email in CUSTOMERS if stage == "cart"}
    other_ids = set(ids.values()) - cart_ids
    cancelled_cart = make_incomplete_order(status="cancelled", stage="cart", name="Old Cart")
    assert len(cart_ids) == 5

    # Sign in through the form (CSRF on); land on the overview.
    sign_in()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # Filter by stage: htmx swaps the table and pushes the filter into the URL.
    page.goto(f"{LIST}?status=open")
    unfiltered_url = page.url
    expect(_rows(page)).to_have_count(12)
    expect(_count(page)).to_have_text("12 matching")
    with page.expect_response(lambda r: _is_fragment_request(r.request)) as response:
        page.get_by_label("Stage").select_option(label="Cart")
    assert response.value.status == 200
    _wait_for_htmx(page)
    expect(_rows(page)).to_have_count(5)
    expect(page).to_have_url(re.compile(r"[?&]stage=cart(&|$)"))
    assert _query(page.url)["status"] == ["open"]
    cart_names = _rows(page).locator("td:nth-child(2) a").all_inner_texts()
    assert len(cart_names) == 5
    assert page.locator("nav.app-nav").count() == 1, "the fragment must not bring a second nav"

    # Reload: the same filtered view, from the URL alone.
    page.reload()
    expect(_rows(page)).to_have_count(5)
    expect(page.get_by_label("Stage")).to_have_value("cart")
    assert _rows(page).locator("td:nth-child(2) a").all_inner_texts() == cart_names

    # Back: the unfiltered view's URL (and its rows) again.
    page.go_back()
    expect(page).to_have_url(unfiltered_url)
    expect(_rows(page)).to_have_count(12)
    expect(page.get_by_label("Stage")).to_have_value("")

    # Search a fragment of one customer's email.
    with page.expect_response(lambda r: _is_fragment_request(r.request)):
        page.get_by_label("Search").press_sequentially("quirke", delay=20)
    _wait_for_htmx(page)
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page)).to_contain_text("Zelda Quirke")
    expect(_rows(page)).to_contain_text("zelda.quirke@example.ie")
    expect(page).to_have_url(re.compile(r"[?&]q=quirke(&|$)"))

    # Clear the search, keep stage=cart, with pages smaller than the match count.
    monkeypatch.setitem(app.config, "PAGE_SIZE", 3)
    with page.expect_response(lambda r: _is_fragment_request(r.request)):
        page.get_by_label("Search").fill("")
    _wait_for_htmx(page)
    with page.expect_response(lambda r: _is_fragment_request(r.request)):
        page.get_by_label("Stage").select_option(label="Cart")
    _wait_for_htmx(page)
    expect(_count(page)).to_have_text("5 matching")
    expect(_rows(page)).to_have_count(3)
    assert _query(page.url).get("q", [""]) == [""]
    assert _query(page.url)["stage"] == ["cart"]

    select_all_matching = page.get_by_role("button", name="Select all 5 matching this filter")
    expect(select_all_matching).to_be_hidden()
    page.get_by_label("Select all on this page").check()
    expect(page.locator("[data-bulk-summary]")).to_have_text("3 selected")
    expect(select_all_matching).to_be_visible()
    select_all_matching.click()
    expect(page.locator("[data-bulk-summary]")).to_have_text(
        "All 5 matching this filter are selected."
    )

    page.get_by_role("button", name="Expire…").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Expire 5 incomplete orders?")
    assert _statuses(app, cart_ids) == dict.fromkeys(cart_ids, "open"), (
        "nothing changes before confirming"
    )
    # The keyboard focus is on the way back, never on the confirm button: a stray Enter
    # leaves the carts as they are.
    keep = confirm.get_by_role("link", name="Keep them as they are")
    expect(keep).to_be_focused()
    page.keyboard.press("Enter")
    expect(confirm).to_have_count(0)
    assert _statuses(app, cart_ids) == dict.fromkeys(cart_ids, "open")
    expect(page.locator("[data-bulk-summary]")).to_have_text(
        "All 5 matching this filter are selected."
    )
    page.get_by_role("button", name="Expire…").click()
    expect(confirm).to_contain_text("Expire 5 incomplete orders?")
    with page.expect_response(
        lambda r: _is_fragment_request(r.request) and r.request.method == "GET"
    ):
        confirm.get_by_role("button", name="Expire 5").click()
    expect(page.locator("#bulk-slot")).to_contain_text("Expired 5 incomplete orders.")
    _wait_for_htmx(page)
    expect(_rows(page)).to_have_count(0)
    expect(page.locator("#io-table")).to_contain_text("No incomplete orders match these filters.")
    expect(_count(page)).to_have_text("0 matching")

    statuses = _statuses(app, [*ids.values(), cancelled_cart])
    assert {i for i, s in statuses.items() if s == "expired"} == cart_ids
    assert {i for i, s in statuses.items() if s == "open"} == other_ids
    assert statuses[cancelled_cart] == "cancelled"

    # Convert one of the remaining open orders from its detail page.
    with page.expect_response(lambda r: _is_fragment_request(r.request)):
        page.get_by_label("Stage").select_option(label="Any stage")
    _wait_for_htmx(page)
    expect(_count(page)).to_have_text("7 matching")
    link = _rows(page).first.locator("td:nth-child(2) a")
    name = link.inner_text()
    order_id = int(link.get_attribute("href").split("?")[0].rstrip("/").rsplit("/", 1)[1])
    assert order_id in other_ids
    link.click()
    expect(page).to_have_url(re.compile(rf"/incomplete-orders/{order_id}(\?back=.*)?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)

    page.get_by_role("link", name="Convert to order…").click()
    page.get_by_label("Yes, payment received").check()
    page.get_by_role("button", name="Convert to order").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    number = f"RC-{order_id:07d}"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
    expect(page.get_by_role("status")).to_contain_text(f"Converted — order {number} created.")
    facts = page.locator("dl.facts")
    expect(facts.locator("dt", has_text="Converted by")).to_be_visible()
    expect(facts.locator("dt:has-text('Converted by') + dd")).to_have_text("agent@example.com")
    expect(facts.locator("dt:has-text('Payment') + dd")).to_have_text("Received")

    with app.app_context():
        assert db.session.get(IncompleteOrder, order_id).status == "converted"
        orders = db.session.scalars(select(Order)).all()
        assert len(orders) == 1
        assert orders[0].number == number
        assert orders[0].incomplete_order_id == order_id
        assert orders[0].converted_by_id == agent_id
        assert orders[0].payment_received is True
    assert console_errors == []


def test_htmx_request_after_the_session_ends_goes_to_the_login_page(
    page, sign_in, make_staff, make_incomplete_order
):
    make_staff("agent")
    _seed(make_incomplete_order, CUSTOMERS[:4])
    sign_in()
    page.goto(f"{LIST}?status=open")
    expect(_rows(page)).to_have_count(4)

    page.context.clear_cookies()
    with page.expect_response(lambda r: _is_fragment_request(r.request)) as response:
        page.get_by_label("Stage").select_option(label="Checkout")
    assert response.value.status == 401
    page.wait_for_url(re.compile(r"/login\?"))

    # The whole page is the login page, not a login form swapped into the table.
    assert urlsplit(page.url).path == "/login"
    next_url = _query(page.url)["next"][0]
    assert urlsplit(next_url).path == LIST
    assert _query(next_url)["stage"] == ["checkout"]
    expect(page.locator("#io-table")).to_have_count(0)
    expect(page.locator("form input[name=password]")).to_have_count(1)
    expect(page.get_by_role("heading", name="Reclaim")).to_be_visible()

    # Signing in again goes back to the view the agent asked for, as a whole page.
    page.get_by_label("Email", exact=True).fill("agent@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/incomplete-orders/\?.*stage=checkout"))
    expect(page.get_by_role("heading", name="Incomplete orders", level=1)).to_be_visible()
    expect(page.get_by_label("Stage")).to_have_value("checkout")
    expect(_rows(page)).to_have_count(1)


def test_list_and_detail_pages_render_without_console_errors(
    page, console_errors, sign_in, make_staff, make_incomplete_order
):
    make_staff("agent")
    stages = ["cart", "checkout", "payment_pending", "payment_failed"]
    first = ["Anna", "Bruno", "Chiara", "Dario", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
    last = ["Berg", "Costa", "Dietz"]
    customers = [
        (
            stages[i % 4],
            f"{first[i % 10]} {last[i // 10]}",
            f"{first[i % 10]}.{last[i // 10]}@example.com".lower(),
        )
        for i in range(30)
    ]
    _seed(make_incomplete_order, customers)
    ARTIFACTS.mkdir(exist_ok=True)

    sign_in()
    page.goto(f"{LIST}?status=open")
    expect(_rows(page)).to_have_count(30)
    assert page.evaluate("() => typeof window.htmx") == "object"
    # app.js is loaded: ticking a row updates the selection summary.
    _rows(page).first.locator(".row-select").check()
    expect(page.locator("[data-bulk-summary]")).to_have_text("1 selected")
    _rows(page).first.locator(".row-select").uncheck()
    expect(page.locator("[data-bulk-summary]")).to_have_text("None selected")
    page.evaluate("() => document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.screenshot(path=ARTIFACTS / "incomplete-orders-list.png", full_page=True)

    _rows(page).first.locator("td:nth-child(2) a").click()
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    expect(page.get_by_role("link", name="Convert to order…")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "incomplete-order-detail.png", full_page=True)

    assert console_errors == []
