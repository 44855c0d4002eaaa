"""The incomplete orders workspace as staff use it: list, paging, bulk, detail, export."""

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from dashboard.audit.actions import action_label
from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.service import ItemSnapshot
from dashboard.orders.models import Order

ROW_LINK = re.compile(r'href="/incomplete-orders/(\d+)(?:\?back=[^"]*)?"')


def _listed(html):
    """Ids of the incomplete orders shown in a list page, in order."""
    return [int(i) for i in ROW_LINK.findall(html)]


def _link(html, rel):
    match = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return unescape(match.group(1)) if match else None


def _set(app, order_id, **values):
    with app.app_context():
        order = db.session.get(IncompleteOrder, order_id)
        for name, value in values.items():
            setattr(order, name, value)
        db.session.commit()


def _statuses(app):
    with app.app_context():
        return dict(db.session.execute(select(IncompleteOrder.id, IncompleteOrder.status)).all())


def _events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _targets(app, event):
    with app.app_context():
        return sorted(
            db.session.scalars(
                select(AuditEventTarget.record_id).where(AuditEventTarget.event_id == event.id)
            )
        )


@pytest.fixture
def agent_id(login):
    return login("agent")


# --- filters, search, sort --------------------------------------------------------------


@pytest.fixture
def three_orders(app, make_incomplete_order):
    """a: open guest cart with email, 60.00; b: expired registered, 40.00;
    c: open guest checkout without email, exactly 50.00."""
    a = make_incomplete_order(stage="cart")
    b = make_incomplete_order(
        status="expired",
        stage="payment_failed",
        customer_id="C-1",
        guest_session=None,
        items=[ItemSnapshot("SKU-3", "Scarf", 1, 4000)],
    )
    c = make_incomplete_order(
        stage="checkout", email=None, items=[ItemSnapshot("SKU-4", "Gloves", 2, 2500)]
    )
    _set(app, a, created_at=datetime(2026, 1, 10, 12), last_activity_at=datetime(2026, 1, 20, 12))
    _set(app, b, created_at=datetime(2026, 1, 15, 12), last_activity_at=datetime(2026, 1, 16, 12))
    _set(app, c, created_at=datetime(2026, 1, 20, 9), last_activity_at=datetime(2026, 1, 20, 10))
    return {"a": a, "b": b, "c": c}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=expired", "b"),
        ("stage=cart", "a"),
        ("customer=guest", "ac"),
        ("customer=registered", "b"),
        ("has_email=yes", "ab"),
        ("has_email=no", "c"),
        ("min_value=50", "ac"),
        ("max_value=49.99", "b"),
        ("min_value=50&max_value=50.00", "c"),
        ("created_from=2026-01-15", "bc"),
        ("created_to=2026-01-15", "ab"),
        ("created_from=2026-01-15&created_to=2026-01-15", "b"),
        ("active_from=2026-01-20", "ac"),
        ("active_to=2026-01-16", "b"),
        ("status=open&stage=checkout&customer=guest&has_email=no", "c"),
    ],
)
def test_filters_narrow_the_list(client, agent_id, three_orders, query, expected):
    html = client.get(f"/incomplete-orders/?{query}").text
    assert sorted(_listed(html)) == sorted(three_orders[name] for name in expected)


@pytest.mark.parametrize("q", ["hoffm", "GRETA.H@", "5550001", "alpha-99", " offmann "])
def test_search_finds_fragments_of_email_name_phone_and_cart_id(
    client, agent_id, make_incomplete_order, q
):
    greta = make_incomplete_order(
        name="Greta Hoffmann",
        email="greta.h@shop.example",
        phone="+49 151 5550001",
        cart_id="cart-alpha-991",
    )
    make_incomplete_order()
    html = client.get("/incomplete-orders/", query_string={"q": q}).text
    assert _listed(html) == [greta]


def test_a_broad_search_finds_the_same_carts_as_a_narrow_one(
    client, agent_id, make_incomplete_order, monkeypatch
):
    """A search matching more carts than are read by id is tested in the page's order
    instead: the same carts either way, the customer id match included."""
    shared = {make_incomplete_order(email=f"shared.{n}@example.com") for n in range(3)}
    shared.add(make_incomplete_order(customer_id="shared."))
    other = make_incomplete_order(email="someone@else.example")
    for cap in (500, 1):
        monkeypatch.setattr("dashboard.incomplete_orders.search.SEARCH_IDS_CAP", cap)
        assert set(_listed(client.get("/incomplete-orders/?q=shared.").text)) == shared
        assert _listed(client.get("/incomplete-orders/?q=someone@").text) == [other]
        nobody = client.get("/incomplete-orders/?q=nobody").text
        assert _listed(nobody) == [] and "No incomplete orders match the search" in nobody
        # The bulk step counts what the list shows.
        form = {"action": "expire", "all_matching": "y", "filter_query": "q=shared."}
        assert "Expire 4 incomplete orders?" in _bulk(client, **form).text


def test_search_shorter_than_three_characters_is_ignored_with_a_hint(
    client, agent_id, make_incomplete_order
):
    ids = {make_incomplete_order(name="Greta"), make_incomplete_order(name="Hugo")}
    response = client.get("/incomplete-orders/?q=Gr")
    assert response.status_code == 200
    assert "Type at least 3 characters" in response.text
    assert set(_listed(response.text)) == ids


@pytest.fixture
def priced_orders(make_incomplete_order):
    """Three orders: 10.00 most recently active, 90.00, then 50.00 least recently active."""
    now = datetime(2026, 2, 1, 12)
    return [
        make_incomplete_order(
            snapshot_at=now - timedelta(hours=n), items=[ItemSnapshot("S", "Thing", 1, price)]
        )
        for n, price in enumerate((1000, 9000, 5000))
    ]


def test_sort_by_value_descending(client, agent_id, priced_orders):
    ten, ninety, fifty = priced_orders
    assert _listed(client.get("/incomplete-orders/?sort=-value").text) == [ninety, fifty, ten]
    assert _listed(client.get("/incomplete-orders/?sort=value").text) == [ten, fifty, ninety]


@pytest.mark.parametrize("sort", ["password_hash", "-email", "value;drop", ""])
def test_unknown_sort_falls_back_to_latest_activity_first(client, agent_id, priced_orders, sort):
    response = client.get("/incomplete-orders/", query_string={"sort": sort})
    assert response.status_code == 200
    assert _listed(response.text) == priced_orders


@pytest.mark.parametrize(
    ("query", "label", "reason"),
    [
        ("min_value=abc", "Value from", "Type an amount in figures, such as 12.50."),
        ("max_value=-5", "Value to", "Must be from 0 to 10,000,000,000."),
        ("created_from=notadate", "Created from", "Not a valid date value."),
        ("active_to=2026-13-45", "Active to", "Not a valid date value."),
        ("min_value=20&max_value=10", "Value to", "Must not be below “Value from”."),
        ("min_value=1e400", "Value from", "Must be from 0 to 10,000,000,000."),
        ("max_value=Infinity", "Value to", "Must be from 0 to 10,000,000,000."),
        ("created_from=0001-01-01", "Created from", "Choose a date between 2000 and 2999."),
        ("created_to=9999-12-31", "Created to", "Choose a date between 2000 and 2999."),
    ],
)
def test_invalid_filter_is_explained_and_the_rest_still_applies(
    client, agent_id, three_orders, query, label, reason
):
    response = client.get(f"/incomplete-orders/?status=expired&{query}")
    assert response.status_code == 200
    alert = re.search(r"Some filters were not applied:(.*?)</div>", response.text, re.S)
    assert alert, "no message about the filter that was not applied"
    assert label in alert.group(1) and reason in unescape(alert.group(1))
    assert _listed(response.text) == [three_orders["b"]]


# --- keyset paging ----------------------------------------------------------------------


@pytest.fixture
def paged(app, monkeypatch, make_incomplete_order):
    """Eight open orders in pages of three, with ties on every sort key; two expired ones."""
    monkeypatch.setitem(app.config, "PAGE_SIZE", 3)
    base = datetime(2026, 2, 1, 12)
    open_ids = [
        make_incomplete_order(
            snapshot_at=base - timedelta(hours=n // 2),  # pairs share a time
            items=[ItemSnapshot("S", "Thing", 1, 1000 * (n % 3 + 1))],  # values repeat
        )
        for n in range(8)
    ]
    for _ in range(2):
        make_incomplete_order(status="expired", snapshot_at=base)
    return open_ids


def _expected_order(app, ids, sort):
    column = {"last_activity": "last_activity_at", "created": "created_at", "value": "subtotal"}[
        sort.lstrip("-")
    ]
    with app.app_context():
        rows = [db.session.get(IncompleteOrder, i) for i in ids]
        keyed = sorted(((getattr(o, column), o.id) for o in rows), reverse=sort.startswith("-"))
    return [order_id for _, order_id in keyed]


def _walk(client, url):
    """Follow the Next links from `url`; returns [(url, ids on that page), ...]."""
    pages = []
    while url:
        html = client.get(url).text
        pages.append((url, _listed(html)))
        url = _link(html, "next")
    return pages


@pytest.mark.parametrize("sort", ["-last_activity", "last_activity", "-value", "value", "created"])
def test_next_links_visit_every_matching_row_once_in_order(app, client, agent_id, paged, sort):
    pages = _walk(client, f"/incomplete-orders/?status=open&sort={sort}")
    visited = [order_id for _, ids in pages for order_id in ids]
    assert [len(ids) for _, ids in pages] == [3, 3, 2]
    assert visited == _expected_order(app, paged, sort)


def test_last_shows_the_last_rows(app, client, agent_id, paged):
    html = client.get("/incomplete-orders/?status=open&cursor=last").text
    assert _listed(html) == _expected_order(app, paged, "-last_activity")[-3:]
    assert _link(html, "next") is None


def test_previous_returns_the_earlier_pages(client, agent_id, paged):
    pages = _walk(client, "/incomplete-orders/?status=open")
    third = client.get(pages[2][0]).text
    second = client.get(_link(third, "prev")).text
    assert _listed(second) == pages[1][1]
    first = client.get(_link(second, "prev")).text
    assert _listed(first) == pages[0][1]
    assert _link(first, "prev") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "after~notadate~1",
        "sideways~2026-02-01T12:00:00~1",
        "after~2026-02-01T12:00:00~1~2",
        "after~2026-02-01T12:00:00~99999999999999999999",
    ],
)
def test_unreadable_cursor_shows_the_first_page(client, agent_id, paged, cursor):
    first = _listed(client.get("/incomplete-orders/?status=open").text)
    response = client.get("/incomplete-orders/", query_string={"status": "open", "cursor": cursor})
    assert response.status_code == 200
    assert _listed(response.text) == first


# --- htmx and counts --------------------------------------------------------------------


def test_htmx_request_gets_the_table_fragment_and_both_vary_on_it(
    client, agent_id, make_incomplete_order
):
    order_id = make_incomplete_order()
    page = client.get("/incomplete-orders/")
    fragment = client.get("/incomplete-orders/", headers={"HX-Request": "true"})
    assert "<html" in page.text and 'id="filters"' in page.text
    assert "<html" not in fragment.text and 'id="filters"' not in fragment.text
    assert _listed(fragment.text) == [order_id]
    for response in (page, fragment):
        assert "HX-Request" in [v.strip() for v in response.headers["Vary"].split(",")]


def test_count_says_how_many_match(client, agent_id, make_incomplete_order):
    for status in ("open", "open", "expired", "cancelled"):
        make_incomplete_order(status=status)
    page = client.get("/incomplete-orders/?status=open&cursor=after~2026-01-01T00:00:00~5").text
    # The page asks for its count separately, with the same filters (no cursor).
    assert 'hx-get="/incomplete-orders/count?status=open"' in page
    assert "2 matching" in client.get("/incomplete-orders/count?status=open").text
    assert "4 matching" in client.get("/incomplete-orders/count").text


# --- bulk actions -----------------------------------------------------------------------


def _bulk(client, ids=(), **form):
    return client.post("/incomplete-orders/bulk", data={"ids": [str(i) for i in ids], **form})


def test_bulk_asks_for_confirmation_with_the_count_first(
    app, client, agent_id, make_incomplete_order
):
    ids = [make_incomplete_order() for _ in range(3)]
    response = _bulk(client, ids, action="expire")
    assert response.status_code == 200
    assert "Expire 3 incomplete orders?" in response.text
    assert set(_statuses(app).values()) == {"open"}
    assert _events(app, "incomplete_order.bulk_expire") == []


def test_bulk_confirmation_says_which_will_stay_as_they_are(
    app, client, agent_id, make_incomplete_order
):
    ids = [make_incomplete_order(), make_incomplete_order(), make_incomplete_order("cancelled")]
    response = _bulk(client, ids, action="expire")
    assert "Expire 2 incomplete orders?" in response.text
    assert "1 of the 3 selected will stay as they are" in response.text


def test_confirmed_bulk_expires_the_open_ones_in_one_audited_change(
    app, client, agent_id, make_incomplete_order
):
    open_ids = [make_incomplete_order(), make_incomplete_order()]
    converted = make_incomplete_order(status="converted")
    response = _bulk(
        client, [*open_ids, converted], action="expire", confirm="y", filter_query="status=open"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/incomplete-orders/?status=open"
    page = client.get(response.headers["Location"]).text
    assert (
        "Expired 2 incomplete orders. 1 left as they were: their status does not allow it." in page
    )
    assert _statuses(app) == {
        open_ids[0]: "expired",
        open_ids[1]: "expired",
        converted: "converted",
    }
    [event] = _events(app, "incomplete_order.bulk_expire")
    assert event.actor_id == agent_id
    assert _targets(app, event) == sorted(open_ids)


def test_bulk_on_all_matching_a_filter_changes_exactly_those(
    app, client, agent_id, make_incomplete_order
):
    carts = [make_incomplete_order(stage="cart"), make_incomplete_order(stage="cart")]
    checkout = make_incomplete_order(stage="checkout")
    expired_cart = make_incomplete_order(status="expired", stage="cart")
    form = {"action": "expire", "all_matching": "y", "filter_query": "status=open&stage=cart"}
    assert "Expire 2 incomplete orders?" in _bulk(client, **form).text

    _bulk(client, confirm="y", **form)
    assert _statuses(app) == {
        carts[0]: "expired",
        carts[1]: "expired",
        checkout: "open",
        expired_cart: "expired",
    }
    [event] = _events(app, "incomplete_order.bulk_expire")
    assert _targets(app, event) == sorted(carts)


def test_bulk_without_a_selection_only_says_so(app, client, agent_id, make_incomplete_order):
    make_incomplete_order()
    response = client.post(
        "/incomplete-orders/bulk", data={"action": "expire", "confirm": "y"}, follow_redirects=True
    )
    assert "Select at least one incomplete order first." in response.text
    assert set(_statuses(app).values()) == {"open"}
    assert _events(app, "incomplete_order.bulk_expire") == []


@pytest.mark.parametrize("action", ["delete", "reopen", ""])
def test_bulk_with_an_unknown_action_is_a_bad_request(
    app, client, agent_id, make_incomplete_order, action
):
    order_id = make_incomplete_order(status="expired")
    assert _bulk(client, [order_id], action=action, confirm="y").status_code == 400
    assert _statuses(app) == {order_id: "expired"}


# --- detail and single actions ----------------------------------------------------------


def test_detail_shows_items_totals_customer_and_timeline(client, agent_id, make_incomplete_order):
    order_id = make_incomplete_order(
        name="Greta Hoffmann", email="greta@shop.example", phone="+49 151 5550001"
    )
    client.post(f"/incomplete-orders/{order_id}/notes", data={"body": "Wants it by Friday."})
    html = client.get(f"/incomplete-orders/{order_id}").text
    for text in ("Linen shirt", "SKU-1", "€25.00", "€50.00", "Belt", "€60.00"):
        assert text in html
    for text in ("Greta Hoffmann", "greta@shop.example", "+49 151 5550001"):
        assert text in html
    timeline = html[html.index('id="timeline"') :]
    assert action_label("incomplete_order.create") in timeline
    assert action_label("incomplete_order.note") in timeline
    assert "Wants it by Friday." in timeline
    assert "agent@example.com" in timeline


def test_empty_note_is_refused_with_a_message(client, agent_id, make_incomplete_order):
    order_id = make_incomplete_order()
    response = client.post(
        f"/incomplete-orders/{order_id}/notes", data={"body": ""}, follow_redirects=True
    )
    assert "A note cannot be empty." in response.text
    assert action_label("incomplete_order.note") not in response.text


def test_bulk_expire_shows_in_each_orders_timeline(client, agent_id, make_incomplete_order):
    order_id = make_incomplete_order()
    _bulk(client, [order_id], action="expire", confirm="y")
    timeline = client.get(f"/incomplete-orders/{order_id}").text.split('id="timeline"')[1]
    assert "Expired in bulk" in timeline
    assert "agent@example.com" in timeline


@pytest.mark.parametrize(
    ("before", "action", "after", "message"),
    [
        ("open", "expire", "expired", "Expired."),
        ("open", "cancel", "cancelled", "Cancelled."),
        ("expired", "cancel", "cancelled", "Cancelled."),
        ("expired", "reopen", "open", "Reopened."),
        ("cancelled", "reopen", "open", "Reopened."),
        (
            "open",
            "reopen",
            "open",
            "This incomplete order is open, so it cannot be reopened "
            "(only expired or cancelled ones can).",
        ),
        (
            "converted",
            "expire",
            "converted",
            "This incomplete order is converted, so it cannot be expired (only open ones can).",
        ),
    ],
)
def test_single_status_change_and_refusal_say_what_happened(
    app, client, agent_id, make_incomplete_order, before, action, after, message
):
    order_id = make_incomplete_order(status=before)
    response = client.post(f"/incomplete-orders/{order_id}/{action}", follow_redirects=True)
    assert message in response.text
    assert _statuses(app) == {order_id: after}


@pytest.mark.parametrize(("payment", "received"), [("received", True), ("awaiting", False)])
def test_convert_creates_the_order_and_shows_it(
    app, client, agent_id, make_incomplete_order, payment, received
):
    cart_id = make_incomplete_order()
    response = client.post(f"/incomplete-orders/{cart_id}/convert", data={"payment": payment})
    assert response.status_code == 302
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.incomplete_order_id == cart_id))
        assert (order.converted_by_id, order.payment_received) == (agent_id, received)
        assert response.headers["Location"] == f"/orders/{order.id}"
        number = order.number
    page = client.get(response.headers["Location"]).text
    assert f"Converted — order {number} created." in page
    assert _statuses(app) == {cart_id: "converted"}


def test_converting_twice_points_to_the_existing_order(
    app, client, agent_id, make_incomplete_order
):
    cart_id = make_incomplete_order()
    client.post(f"/incomplete-orders/{cart_id}/convert", data={"payment": "received"})
    again = client.post(
        f"/incomplete-orders/{cart_id}/convert",
        data={"payment": "received"},
        follow_redirects=True,
    )
    assert re.search(r"Already converted — see order RC-\d+\.", again.text)
    with app.app_context():
        assert len(db.session.scalars(select(Order)).all()) == 1


def test_convert_without_saying_whether_paid_asks_again(
    app, client, agent_id, make_incomplete_order
):
    cart_id = make_incomplete_order()
    response = client.post(f"/incomplete-orders/{cart_id}/convert", data={})
    assert response.status_code == 422
    assert "Say whether the payment has been received." in response.text
    assert _statuses(app) == {cart_id: "open"}


def test_an_id_too_large_for_the_database_is_not_found(client, agent_id):
    assert client.get("/incomplete-orders/99999999999999999999").status_code == 404


# --- escaping ---------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


@pytest.fixture
def hostile_order(app, client, agent_id, make_incomplete_order):
    """An incomplete order whose every customer-supplied text is markup, converted to an
    order; a note and a bulk filter carry markup too. Returns (cart id, order id)."""
    cart_id = make_incomplete_order(
        name=SCRIPT + IMG,
        email=f"{SCRIPT}@example.com",
        phone=SCRIPT,
        cart_id=f"cart-{SCRIPT}",
        items=[ItemSnapshot("SKU-1", SCRIPT + IMG, 1, 1000)],
    )
    client.post(f"/incomplete-orders/{cart_id}/notes", data={"body": SCRIPT + IMG})
    client.post(f"/incomplete-orders/{cart_id}/convert", data={"payment": "received"})
    _bulk(
        client,
        action="cancel",
        all_matching="y",
        confirm="y",
        filter_query=f"q={SCRIPT}{IMG}",
    )
    with app.app_context():
        order_id = db.session.scalar(select(Order.id))
    return cart_id, order_id


@pytest.mark.parametrize(
    "url",
    [
        "/incomplete-orders/",
        "/incomplete-orders/{cart}",
        "/orders/",
        "/orders/{order}",
        "/audit/",
    ],
)
def test_markup_from_customers_and_staff_is_shown_as_text(client, hostile_order, url):
    cart_id, order_id = hostile_order
    html = client.get(url.format(cart=cart_id, order=order_id)).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# --- CSV export -------------------------------------------------------------------------


def test_csv_export_has_a_header_and_the_filtered_rows(client, agent_id, make_incomplete_order):
    wanted = make_incomplete_order(name="Greta Hoffmann", cart_id="cart-g")
    make_incomplete_order(status="expired")
    response = client.get("/incomplete-orders/export.csv?status=open")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *rows = csv.reader(io.StringIO(response.text))
    assert header[:3] == ["id", "cart_id", "status"]
    assert {"email", "name", "subtotal", "created_at"} <= set(header)
    assert [(int(r[0]), r[1], r[header.index("name")]) for r in rows] == [
        (wanted, "cart-g", "Greta Hoffmann")
    ]
    assert rows[0][header.index("subtotal")] == "60.00"


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_export_defuses_spreadsheet_formulas(client, agent_id, make_incomplete_order, name):
    make_incomplete_order(name=name)
    header, row = csv.reader(io.StringIO(client.get("/incomplete-orders/export.csv").text))
    assert row[header.index("name")] == "'" + name


def test_cancel_asks_first_then_the_cart_can_be_reopened(
    app, client, agent_id, make_incomplete_order
):
    order_id = make_incomplete_order()
    page = client.get(f"/incomplete-orders/{order_id}/cancel").text
    assert "Cancel the cart of" in page and "You can reopen it later" in page
    assert f'action="/incomplete-orders/{order_id}/cancel"' in page
    # The way back has the focus, not the destructive button.
    assert f'href="/incomplete-orders/{order_id}" autofocus>Keep the cart open' in page
    assert _statuses(app) == {order_id: "open"}

    client.post(f"/incomplete-orders/{order_id}/cancel")
    assert _statuses(app) == {order_id: "cancelled"}
    detail = client.get(f"/incomplete-orders/{order_id}").text
    assert f'action="/incomplete-orders/{order_id}/reopen"' in detail
    client.post(f"/incomplete-orders/{order_id}/reopen")
    assert _statuses(app) == {order_id: "open"}


def test_a_note_or_a_status_change_comes_back_within_the_list_the_cart_was_opened_from(
    client, agent_id, make_incomplete_order
):
    make_incomplete_order()  # a neighbour in the list
    order_id = make_incomplete_order()
    back = "status=open&sort=-value"
    page = client.get(f"/incomplete-orders/{order_id}", query_string={"back": back}).text
    forms = re.findall(r'<form method="post" action="([^"]+)"', page)
    note_action = unescape(next(a for a in forms if "/notes" in a))
    expire_action = unescape(next(a for a in forms if "/expire" in a))
    cancel_link = unescape(re.search(r'href="([^"]+/cancel[^"]*)"', page).group(1))

    response = client.post(note_action, data={"body": "Called back."})
    assert response.status_code == 302
    assert response.location.endswith(
        f"/incomplete-orders/{order_id}?{urlencode({'back': back})}#timeline"
    )
    # The page it lands on still shows where the cart is in that list.
    landed = client.get(response.location.split("#")[0]).text
    assert 'rel="prev"' in landed or 'rel="next"' in landed

    confirm = client.get(cancel_link).text
    assert urlencode({"back": back}) in unescape(confirm)
    response = client.post(expire_action, data={})
    assert response.location.endswith(f"/incomplete-orders/{order_id}?{urlencode({'back': back})}")
