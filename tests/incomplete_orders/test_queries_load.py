"""What each page asks the database for: line items are read where they are shown (one
statement for them all), never on list pages or in the CSV export."""

import re

from dashboard.line_items import ItemSnapshot
from dashboard.timeutil import utcnow

ITEM_TABLES = re.compile(r"\b(incomplete_order_items|order_items)\b")


def _touching_items(seen):
    return [s for s in seen if ITEM_TABLES.search(s)]


def _carts(make_incomplete_order, count):
    return [
        make_incomplete_order(
            items=[
                ItemSnapshot(f"SKU-{n}", "Linen shirt", 1, 2500),
                ItemSnapshot("B", "Belt", 2, 990),
            ]
        )
        for n in range(count)
    ]


def test_the_list_page_runs_the_same_statements_for_one_cart_or_many(
    client, login, make_incomplete_order, statements
):
    login("agent")
    _carts(make_incomplete_order, 1)
    client.get("/incomplete-orders/")  # the first request of a session may set things up
    with statements() as one:
        assert client.get("/incomplete-orders/").status_code == 200
    _carts(make_incomplete_order, 7)
    with statements() as eight:
        page = client.get("/incomplete-orders/").text
    assert page.count("Linen shirt") == 0  # the list shows counts, not lines
    assert len(eight) == len(one)
    assert _touching_items(one) == [] and _touching_items(eight) == []


def test_the_csv_export_reads_no_item_rows(client, login, make_incomplete_order, statements):
    login("viewer")
    _carts(make_incomplete_order, 5)
    with statements() as seen:
        response = client.get("/incomplete-orders/export.csv")
        rows = response.text.splitlines()
    assert len(rows) == 1 + 5
    assert _touching_items(seen) == []


def test_a_cart_page_reads_its_items_in_one_statement(
    client, login, make_incomplete_order, statements
):
    login("agent")
    cart_id = _carts(make_incomplete_order, 1)[0]
    with statements() as seen:
        page = client.get(f"/incomplete-orders/{cart_id}").text
    assert "Linen shirt" in page and "Belt" in page
    assert len(_touching_items(seen)) == 1


def test_the_orders_list_reads_no_items_and_an_order_page_reads_them_once(
    client, login, storefront, statements
):
    login("agent")
    for _ in range(3):
        assert storefront.post_order().status_code == 201
    with statements() as listed:
        assert client.get("/orders/").status_code == 200
    assert _touching_items(listed) == []

    order_id = int(re.search(r'href="/orders/(\d+)"', client.get("/orders/").text).group(1))
    with statements() as shown:
        page = client.get(f"/orders/{order_id}").text
    assert "Product SKU-1" in page and "Product SKU-2" in page
    assert len(_touching_items(shown)) == 1


def test_the_api_answers_a_cart_with_its_items_from_one_statement(storefront, statements):
    assert storefront.put_cart("cart-api").status_code == 201
    with statements() as seen:
        cart = storefront.get("/incomplete-orders/cart-api").json
    assert [i["sku"] for i in cart["items"]] == ["SKU-1", "SKU-2"]
    assert len(_touching_items(seen)) == 1


def test_a_delivery_run_reads_the_items_of_its_recovery_emails_in_one_statement(
    recovery_settings, shop, due_carts, smtp_server, statements
):
    due_carts(4)
    shop.run(utcnow())
    with statements() as seen:
        delivered = shop.deliver()
    assert delivered["sent"] == 4 and len(smtp_server.messages) == 4
    for message in smtp_server.messages:
        assert "Linen shirt" in message.get_body(("plain",)).get_content()
    assert len(_touching_items(seen)) == 1
