"""A cart among its customer's other carts and orders, and among its neighbours in the list
it was opened from: the customer's carts and orders (by customer id, else by email), search
by customer id, previous / next with the list's filters and sort, and a breadcrumb back to
the list as it was filtered."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.line_items import ItemSnapshot
from tests.factories import at

ROW_LINK = re.compile(r'href="(/incomplete-orders/(\d+)\?back=[^"]*)"')


def _id(app, cart_ref):
    with app.app_context():
        return db.session.scalar(
            select(IncompleteOrder.id).where(IncompleteOrder.cart_id == cart_ref)
        )


def _section(html, title_id):
    start = html.index(f'id="{title_id}"')
    return html[start : html.index("</section>", start)]


def _text(html):
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _link(html, rel):
    match = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


def _breadcrumb(html):
    nav = html[html.index('aria-label="breadcrumb"') :]
    return unescape(re.search(r'href="([^"]+)"', nav).group(1))


# --- the customer's other carts and orders --------------------------------------------------


def test_a_registered_customers_other_carts_and_orders_are_linked(app, client, login, storefront):
    for ref, minutes in (("c-mine", 300), ("c-older", 600), ("c-newer", 100)):
        storefront.put_cart(
            ref, snapshot_at=at(minutes), customer_id="C-777", email=f"{ref}@x.example"
        )
    storefront.put_cart("c-someone-else", customer_id="C-778", email="c-mine@x.example")
    assert storefront.post_order(number="SHOP-7001", customer_id="C-777").status_code == 201
    assert storefront.post_order(number="SHOP-7002", customer_id="C-999").status_code == 201
    login("viewer")
    page = client.get(f"/incomplete-orders/{_id(app, 'c-mine')}").text
    customer = _section(page, "customer-title")
    assert "Other carts of this customer (same customer id)" in _text(customer)
    newer, older = _id(app, "c-newer"), _id(app, "c-older")
    assert customer.index(f'href="/incomplete-orders/{newer}"') < customer.index(
        f'href="/incomplete-orders/{older}"'
    )
    assert f'href="/incomplete-orders/{_id(app, "c-someone-else")}"' not in customer
    assert ">c-newer</a>" in customer and ">c-mine</a>" not in customer
    assert "SHOP-7001" in customer and "SHOP-7002" not in customer
    # The customer id leads to every cart of that customer.
    assert 'href="/incomplete-orders/?q=C-777"' in customer


def test_a_guests_carts_and_orders_are_found_by_email(app, client, login, storefront):
    storefront.put_cart("g-1", email="ada@example.com", snapshot_at=at(200))
    storefront.put_cart("g-2", email="ada@example.com", snapshot_at=at(100))
    storefront.put_cart("g-3", email="bob@example.com")
    storefront.post_order(number="SHOP-8001", customer_id=..., email="ada@example.com")
    login("viewer")
    customer = _section(client.get(f"/incomplete-orders/{_id(app, 'g-1')}").text, "customer-title")
    assert "Other carts of this customer (same email)" in _text(customer)
    assert ">g-2</a>" in customer and ">g-3</a>" not in customer
    assert "SHOP-8001" in customer


def test_a_guest_without_email_has_no_other_carts_section(app, client, login, storefront):
    storefront.put_cart("g-anon", email=..., name=..., phone=..., stage="cart")
    login("viewer")
    customer = _section(
        client.get(f"/incomplete-orders/{_id(app, 'g-anon')}").text, "customer-title"
    )
    assert "Other carts" not in customer


def test_many_other_carts_show_ten_and_link_to_the_rest(app, client, login, storefront):
    for n in range(13):
        storefront.put_cart(f"m-{n}", customer_id="C-MANY", snapshot_at=at(500 - n))
    login("viewer")
    customer = _section(client.get(f"/incomplete-orders/{_id(app, 'm-0')}").text, "customer-title")
    assert (
        customer.count('href="/incomplete-orders/') == 10 + 2
    )  # ten carts, the customer id, "more"
    assert '<a href="/incomplete-orders/?q=C-MANY">2 more</a>' in customer


def test_search_finds_a_customers_carts_by_customer_id(app, client, login, storefront):
    storefront.put_cart("s-1", customer_id="C-4242")
    storefront.put_cart("s-2", customer_id="C-4242")
    storefront.put_cart("s-3", customer_id="C-9999")
    login("viewer")
    for typed in ("C-4242", "c-4242", " C-4242 "):
        listed = {
            int(i)
            for _, i in ROW_LINK.findall(
                client.get("/incomplete-orders/", query_string={"q": typed}).text
            )
        }
        assert listed == {_id(app, "s-1"), _id(app, "s-2")}, typed
    # Text search still works alongside it.
    listed = {int(i) for _, i in ROW_LINK.findall(client.get("/incomplete-orders/?q=s-3").text)}
    assert listed == {_id(app, "s-3")}


# --- previous / next within the filtered list -----------------------------------------------


def _value_carts(app, make_incomplete_order):
    """Five checkout carts worth 10, 20, 30, 40, 50 and one cart-stage cart worth 35."""
    ids = {}
    for value in (10, 20, 30, 40, 50):
        ids[value] = make_incomplete_order(
            stage="checkout", items=[ItemSnapshot("S", "Thing", 1, value * 100)]
        )
    ids["other"] = make_incomplete_order(stage="cart", items=[ItemSnapshot("S", "Thing", 1, 3500)])
    return ids


def test_previous_and_next_follow_the_lists_filters_and_sort(
    app, client, login, make_incomplete_order
):
    ids = _value_carts(app, make_incomplete_order)
    login("viewer")
    listing = client.get("/incomplete-orders/?stage=checkout&sort=value").text
    rows = ROW_LINK.findall(listing)
    assert [int(i) for _, i in rows] == [ids[v] for v in (10, 20, 30, 40, 50)]
    link = unescape(rows[1][0])  # the 20 cart
    assert parse_qs(urlsplit(link).query)["back"] == ["stage=checkout&sort=value"]

    page = client.get(link).text
    assert (
        _link(page, "prev") == f"/incomplete-orders/{ids[10]}?back=stage%3Dcheckout%26sort%3Dvalue"
    )
    assert (
        _link(page, "next") == f"/incomplete-orders/{ids[30]}?back=stage%3Dcheckout%26sort%3Dvalue"
    )
    assert _breadcrumb(page) == "/incomplete-orders/?stage=checkout&sort=value"

    page = client.get(_link(page, "next")).text  # the 30 cart; the 35 cart-stage one is skipped
    assert _link(page, "next").startswith(f"/incomplete-orders/{ids[40]}?")
    last = client.get(f"/incomplete-orders/{ids[50]}?back=stage%3Dcheckout%26sort%3Dvalue").text
    assert _link(last, "next") is None and "Next ›" in last
    assert _link(last, "prev").startswith(f"/incomplete-orders/{ids[40]}?")

    # Descending, as the list would show it.
    page = client.get(f"/incomplete-orders/{ids[20]}?back=stage%3Dcheckout%26sort%3D-value").text
    assert _link(page, "prev").startswith(f"/incomplete-orders/{ids[30]}?")
    assert _link(page, "next").startswith(f"/incomplete-orders/{ids[10]}?")


def test_the_back_parameter_is_read_as_filters_never_as_a_url(
    app, client, login, make_incomplete_order
):
    order_id = make_incomplete_order()
    login("viewer")
    for back in (
        "https://evil.example/phish",
        "//evil.example/",
        "next=https://evil.example&status=open",
        "status=open&q=%0d%0aSet-Cookie:x",
    ):
        page = client.get(f"/incomplete-orders/{order_id}", query_string={"back": back}).text
        crumb = _breadcrumb(page)
        assert crumb.startswith("/incomplete-orders/"), (back, crumb)
        assert "evil" not in crumb
    page = client.get(
        f"/incomplete-orders/{order_id}", query_string={"back": "status=open&bogus=1&min_value=abc"}
    ).text
    assert _breadcrumb(page) == "/incomplete-orders/?status=open"


def test_without_a_list_the_page_has_no_previous_or_next(app, client, login, make_incomplete_order):
    order_id = make_incomplete_order()
    login("viewer")
    page = client.get(f"/incomplete-orders/{order_id}").text
    assert "‹ Previous" not in page and "Next ›" not in page
    assert _breadcrumb(page) == "/incomplete-orders/?status=open"
