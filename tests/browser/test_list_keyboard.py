"""The incomplete-orders list by keyboard and over a long day, in a real browser: the sort a
header sets survives a filter change, / j k x Enter, focus kept across swaps, the skip link,
and the bulk bar and pager in reach from the bottom of the page."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from dashboard.incomplete_orders.service import ItemSnapshot
from dashboard.timeutil import utcnow

pytestmark = pytest.mark.browser

LIST = "/incomplete-orders/?status=open"


def _wait_for_htmx(page):
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _rows(page):
    return page.locator("#io-table tbody tr")


def _focused(page, attribute):
    return page.evaluate(f"document.activeElement.getAttribute('{attribute}')")


@pytest.fixture
def carts(make_incomplete_order):
    """Twelve open carts, newest activity first: cart i is worth (i * 7 % 12 + 1) * 10 EUR,
    so value and activity order differ; the even ones are in checkout, the odd in cart."""
    start = utcnow() - timedelta(hours=5)
    ids = []
    for i in range(12):
        ids.append(
            make_incomplete_order(
                name=f"Customer {i:02d}",
                stage="checkout" if i % 2 == 0 else "cart",
                snapshot_at=start + timedelta(minutes=i),
                items=[ItemSnapshot("S", "Thing", 1, (i * 7 % 12 + 1) * 1000)],
            )
        )
    return list(reversed(ids))  # as the list shows them: latest activity first


def _values(page):
    texts = _rows(page).locator("td.text-end").all_inner_texts()
    return [float(re.search(r"€([\d,.]+)", t)[1].replace(",", "")) for t in texts]


def test_a_header_sort_survives_a_filter_change_and_the_select_shows_it(
    page, console_errors, sign_in, make_staff, carts
):
    make_staff("agent")
    sign_in()
    page.goto(LIST)
    sort = page.get_by_label("Sort")
    expect(sort).to_have_value("-last_activity")

    page.get_by_role("link", name="Value").click()
    _wait_for_htmx(page)
    expect(sort).to_have_value("-value")
    assert parse_qs(urlsplit(page.url).query)["sort"] == ["-value"]

    page.get_by_label("Stage").select_option("checkout")
    _wait_for_htmx(page)
    query = parse_qs(urlsplit(page.url).query)
    assert query["sort"] == ["-value"] and query["stage"] == ["checkout"]
    expect(sort).to_have_value("-value")
    values = _values(page)
    assert len(values) == 6 and values == sorted(values, reverse=True)
    expect(page.locator("#io-table th[aria-sort=descending]")).to_contain_text("Value")
    assert console_errors == []


def test_keyboard_search_rows_tick_and_open(page, console_errors, sign_in, make_staff, carts):
    make_staff("agent")
    sign_in()
    page.goto(LIST)

    page.locator("h1").click()  # the focus nowhere in particular
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    # Typing in the search is typing, not shortcuts.
    page.keyboard.type("jx")
    expect(page.get_by_label("Search")).to_have_value("jx")
    page.goto(LIST)  # the list as it was, without waiting on the search typed above
    page.locator("h1").click()

    page.keyboard.press("j")
    page.keyboard.press("j")
    second = _rows(page).nth(1)
    expect(second).to_have_class(re.compile(r"\bis-current\b"))
    expect(second.locator("[data-row-link]")).to_be_focused()
    page.keyboard.press("x")
    expect(second.locator("[data-bulk-row]")).to_be_checked()
    expect(_rows(page).nth(0).locator("[data-bulk-row]")).not_to_be_checked()
    bar = page.get_by_role("group", name="Bulk actions")
    expect(bar.locator("[data-bulk-summary]")).to_have_text("1 selected")
    expect(bar).to_have_class(re.compile(r"\bis-floating\b"))
    expect(bar).to_be_in_viewport()

    page.keyboard.press("k")
    expect(_rows(page).nth(0).locator("[data-row-link]")).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/incomplete-orders/{carts[1]}(\?|$)"))
    assert console_errors == []


def test_focus_comes_back_to_the_control_after_sorting_and_paging(
    app, page, monkeypatch, sign_in, make_staff, carts
):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 5)
    make_staff("agent")
    sign_in()
    page.goto(LIST)

    page.get_by_role("link", name="Created").click()
    _wait_for_htmx(page)
    assert _focused(page, "data-focus-key") == "sort-created"
    # By keyboard too: Enter on the focused header sorts the other way, focus stays.
    page.keyboard.press("Enter")
    _wait_for_htmx(page)
    assert "sort=created" in page.url
    assert _focused(page, "data-focus-key") == "sort-created"

    bottom = page.get_by_role("navigation", name="Pages, at the bottom")
    bottom.get_by_role("link", name="Next ›").focus()
    page.keyboard.press("Enter")
    _wait_for_htmx(page)
    assert "cursor=" in page.url
    assert _focused(page, "data-focus-key") == "pager-bottom-next"


def test_the_first_tab_skips_to_the_first_row(page, sign_in, make_staff, carts):
    make_staff("agent")
    sign_in()
    page.goto(LIST)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to results")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    first = _rows(page).nth(0)
    expect(first.locator("[data-row-link]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(_rows(page).nth(1).locator("[data-bulk-row]")).to_be_focused()


def test_focus_is_visible_on_the_dark_menu(page, sign_in, make_staff):
    make_staff("agent")
    sign_in()
    page.goto(LIST)
    link = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Orders", exact=True
    )
    link.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible
    expect(link).to_be_focused()
    outline = link.evaluate(
        "e => [getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth,"
        " getComputedStyle(e).outlineColor]"
    )
    # A light ring on the dark menu (the page's amber one would be faint there).
    assert outline == ["solid", "3px", "rgb(255, 209, 102)"]


def test_a_ticked_row_far_down_keeps_the_bulk_bar_and_a_pager_in_reach(
    page, console_errors, sign_in, make_staff, make_incomplete_order
):
    for i in range(51):
        make_incomplete_order(name=f"Shopper {i}")
    make_staff("agent")
    sign_in()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(LIST)
    row = _rows(page).nth(44)
    row.locator("[data-bulk-row]").check()
    row.scroll_into_view_if_needed()
    bar = page.get_by_role("group", name="Bulk actions")
    expect(bar).to_be_in_viewport()
    expect(bar.locator("[data-bulk-summary]")).to_have_text("1 selected")
    # The bar covers no row: the page has room for it below the last one.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    bottom = page.get_by_role("navigation", name="Pages, at the bottom")
    expect(bottom).to_be_in_viewport()
    bar_top = bar.bounding_box()["y"]
    pager_box = bottom.bounding_box()
    assert pager_box["y"] + pager_box["height"] <= bar_top

    bar.get_by_role("button", name="Expire…").click()
    confirm = page.locator("[data-bulk-confirm]")
    expect(confirm).to_contain_text("Expire 1 incomplete order?")
    expect(confirm).to_be_in_viewport()
    expect(confirm.get_by_role("link", name="Keep them as they are")).to_be_focused()
    assert console_errors == []
