"""The outbox searched by recipient (a whole address over every email, part of one over
the newest) and by cart (the storefront's cart id or the cart's number, its order's
confirmation included); each row says what the email is about: its cart and step."""

import re

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.outbox import queries
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row


def listed(html):
    return [int(i) for i in re.findall(r'href="/outbox/(\d+)"', html)]


@pytest.fixture
def mail(app, make_incomplete_order):
    """Recovery emails to two customers (steps 1 and 2 for Ada, step 1 for Bruno), and the
    confirmation of the order Ada's cart became. Returns ids by name."""
    ada_cart = make_incomplete_order(cart_id="web-ada-1", email="ada.lovelace@example.com")
    bruno_cart = make_incomplete_order(cart_id="web-bruno-7", email="bruno@shop.example.net")
    with app.app_context():
        order = Order(
            number="RC-1001",
            source="storefront",
            incomplete_order_id=ada_cart,
            currency="EUR",
            total=4200,
        )
        db.session.add(order)
        db.session.flush()
        insert_ignoring_duplicates(
            [
                outbox_row(
                    "recovery",
                    f"recovery:{ada_cart}:1",
                    "ada.lovelace@example.com",
                    record=("incomplete_order", ada_cart),
                ),
                outbox_row(
                    "recovery",
                    f"recovery:{ada_cart}:2",
                    "ada.lovelace@example.com",
                    record=("incomplete_order", ada_cart),
                ),
                outbox_row(
                    "recovery",
                    f"recovery:{bruno_cart}:1",
                    "bruno@shop.example.net",
                    record=("incomplete_order", bruno_cart),
                ),
                outbox_row(
                    "order_confirmation",
                    "order:RC-1001",
                    "Ada.Lovelace@Example.com",
                    subject="Your order RC-1001",
                    record=("order", order.id),
                ),
            ]
        )
        db.session.commit()
        ids = {m.dedupe_key: m.id for m in db.session.scalars(select(OutboxMessage))}
    return {
        "ada_cart": ada_cart,
        "bruno_cart": bruno_cart,
        "ada_1": ids[f"recovery:{ada_cart}:1"],
        "ada_2": ids[f"recovery:{ada_cart}:2"],
        "bruno_1": ids[f"recovery:{bruno_cart}:1"],
        "confirmation": ids["order:RC-1001"],
    }


@pytest.fixture
def viewer(login):
    return login("viewer")


def test_a_whole_address_finds_every_email_to_it_whatever_its_case(client, viewer, mail):
    page = client.get("/outbox/?to=Ada.Lovelace@example.com").text
    assert set(listed(page)) == {mail["ada_1"], mail["ada_2"], mail["confirmation"]}
    assert "3 emails" in page
    assert "Part of an address" not in page


def test_part_of_an_address_finds_the_emails_it_is_in(client, viewer, mail):
    assert set(listed(client.get("/outbox/?to=LOVELACE").text)) == {
        mail["ada_1"],
        mail["ada_2"],
        mail["confirmation"],
    }
    assert listed(client.get("/outbox/?to=shop.example").text) == [mail["bruno_1"]]
    # Typed characters are text, not patterns.
    assert "No emails match." in client.get("/outbox/?to=%25%25%25").text
    assert "No emails match." in client.get("/outbox/?to=a_a").text


def test_too_short_a_part_is_not_applied_and_says_why(client, viewer, mail):
    page = client.get("/outbox/?to=ad").text
    assert "Type at least 3 characters of the address." in page
    assert len(listed(page)) == 4  # the filter was left out, the rest still applies


def test_part_of_an_address_looks_only_among_the_newest_emails(
    app, client, viewer, mail, monkeypatch
):
    monkeypatch.setattr(queries, "RECIPIENT_SEARCH_WINDOW", 2)
    page = client.get("/outbox/?to=lovelace").text
    # The two newest emails are Bruno's step 1 and Ada's confirmation.
    assert listed(page) == [mail["confirmation"]]
    assert "Part of an address is looked for among the newest 2 emails." in page
    # A whole address still finds every one.
    assert len(listed(client.get("/outbox/?to=ada.lovelace@example.com").text)) == 3


@pytest.mark.parametrize("cart", ["web-ada-1", "{id}", "#{id}"])
def test_a_cart_finds_its_recovery_emails_and_its_orders_confirmation(client, viewer, mail, cart):
    page = client.get("/outbox/", query_string={"cart": cart.format(id=mail["ada_cart"])}).text
    assert listed(page) == [mail["confirmation"], mail["ada_2"], mail["ada_1"]]


def test_an_unknown_cart_finds_nothing(client, viewer, mail):
    for cart in ("web-nobody", "999999", "99999999999999999999", "x' OR 1=1 --"):
        page = client.get("/outbox/", query_string={"cart": cart})
        assert page.status_code == 200
        assert "No emails match." in page.text


def test_recipient_and_cart_combine_with_status_and_kind(client, viewer, mail):
    page = client.get(
        "/outbox/",
        query_string={"to": "ada.lovelace@example.com", "cart": "web-ada-1", "kind": "recovery"},
    ).text
    assert set(listed(page)) == {mail["ada_1"], mail["ada_2"]}


def test_each_row_shows_its_cart_with_a_link_and_its_step(app, client, viewer, mail):
    page = client.get("/outbox/?kind=recovery").text
    ada = f'href="/incomplete-orders/{mail["ada_cart"]}">web-ada-1</a>'
    assert page.count(ada) == 2
    assert f'href="/incomplete-orders/{mail["bruno_cart"]}">web-bruno-7</a>' in page
    assert page.count("Step 1 reminder") >= 2 and "Step 2 reminder" in page
    confirmation = client.get("/outbox/?kind=order_confirmation").text
    with app.app_context():
        order_id = db.session.scalar(select(Order.id))
    assert f'href="/orders/{order_id}">RC-1001</a>' in confirmation


def test_a_row_whose_cart_was_deleted_says_so(app, client, viewer, mail):
    with app.app_context():
        db.session.execute(Order.__table__.update().values(incomplete_order_id=None))
        db.session.delete(db.session.get(IncompleteOrder, mail["bruno_cart"]))
        db.session.commit()
    page = client.get("/outbox/?to=bruno@shop.example.net").text
    assert f"#{mail['bruno_cart']}, since deleted" in page
    assert "Step 1 reminder" in page


def test_the_search_fields_are_on_the_page_and_keep_their_values(client, viewer, mail):
    page = client.get("/outbox/?to=lovelace&cart=web-ada-1").text
    assert re.search(r'name="to"[^>]*value="lovelace"', page)
    assert re.search(r'name="cart"[^>]*value="web-ada-1"', page)
    fragment = client.get("/outbox/?to=lovelace", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and len(listed(fragment.text)) == 3


@pytest.mark.parametrize("field", ["to", "cart"])
def test_control_characters_are_refused_not_a_server_error(client, viewer, mail, field):
    page = client.get("/outbox/", query_string={field: "ada\x1f"})
    assert page.status_code == 200
    assert "Type letters, digits and punctuation only." in page.text
    # A NUL is refused before any form sees it, on every page (tests/test_hostile_input.py).
    page = client.get("/outbox/", query_string={field: "ada\x00"})
    assert page.status_code == 400
    assert "NUL character" in page.text
