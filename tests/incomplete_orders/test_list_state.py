"""The incomplete-orders list as staff read it all day: one sort state, a cart's recovery
state in its row and in filters, the small things (names, currency, errors, empty states),
typed counts for big destructive bulk actions, and an export that follows the list."""

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import insert, select

from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.service import ItemSnapshot
from dashboard.recovery.models import RecoveryAttempt, Suppression
from dashboard.timeutil import to_shop_time, utcnow

LIST = "/incomplete-orders/"
ROW_LINK = re.compile(r'href="/incomplete-orders/(\d+)[?"]')


def _listed(html):
    return [int(i) for i in ROW_LINK.findall(html)]


def _row(html, order_id):
    """The <tr> of one incomplete order in a list page."""
    match = re.search(
        rf'<tr data-list-row>(?:(?!</tr>).)*href="/incomplete-orders/{order_id}[?"](?:(?!</tr>).)*</tr>',
        html,
        re.S,
    )
    assert match, f"no row for {order_id}"
    return match.group(0)


def _set(app, order_id, **values):
    with app.app_context():
        order = db.session.get(IncompleteOrder, order_id)
        for name, value in values.items():
            setattr(order, name, value)
        db.session.commit()


@pytest.fixture
def agent(login):
    return login("agent")


# --- one sort state ---------------------------------------------------------------------


def test_the_table_says_its_sort_and_the_sort_select_shows_it(client, agent, make_incomplete_order):
    make_incomplete_order()
    html = client.get(f"{LIST}?status=open&sort=-value").text
    assert 'data-sort="-value"' in html
    assert re.search(r'<option selected value="-value">|<option value="-value" selected>', html)
    fragment = client.get(
        f"{LIST}?status=open&stage=checkout&sort=created", headers={"HX-Request": "true"}
    ).text
    # The fragment tells the filter form outside it which sort is in effect.
    assert 'data-sort="created"' in fragment
    # A header keeps the filters and flips its own direction.
    header = unescape(re.search(r'href="([^"]+)"[^>]*data-focus-key="sort-created"', fragment)[1])
    assert "status=open" in header and "stage=checkout" in header and "sort=-created" in header


# --- recovery state in the row, and as filters -------------------------------------------


@pytest.fixture
def states(app, make_incomplete_order):
    """One cart each: paused, unsubscribed, clicked an email, with a note; and a plain one."""
    ids = {
        name: make_incomplete_order(name=f"Cart {name}", email=f"{name}@example.com")
        for name in ("paused", "unsubscribed", "clicked", "noted", "plain")
    }
    with app.app_context():
        db.session.get(IncompleteOrder, ids["paused"]).recovery_paused_at = utcnow()
        db.session.add(Suppression(email="unsubscribed@example.com"))
        clicked = db.session.get(IncompleteOrder, ids["clicked"])
        clicked.recovery_attempts = 1
        clicked.recovery_last_sent_at = utcnow() - timedelta(hours=1)
        db.session.add(
            RecoveryAttempt(
                incomplete_order_id=ids["clicked"],
                step=1,
                sent_at=utcnow() - timedelta(hours=1),
                clicked_at=utcnow(),
            )
        )
        db.session.commit()
    return ids


@pytest.mark.parametrize(
    ("flag", "badge"),
    [
        ("paused", "Paused"),
        ("unsubscribed", "Unsubscribed"),
        ("clicked", "Clicked"),
        ("has_notes", "Notes"),
    ],
)
def test_each_recovery_state_shows_in_its_row_and_filters_the_list(
    client, agent, states, flag, badge
):
    client.post(f"/incomplete-orders/{states['noted']}/notes", data={"body": "Called back."})
    owner = "noted" if flag == "has_notes" else flag
    html = client.get(f"{LIST}?status=open").text
    assert f">{badge}</span>" in _row(html, states[owner])
    assert f">{badge}</span>" not in _row(html, states["plain"])

    filtered = client.get(f"{LIST}?status=open&{flag}=y").text
    assert _listed(filtered) == [states[owner]]
    count = client.get(f"/incomplete-orders/count?status=open&{flag}=y").text
    assert "1 matching" in count


def test_the_filters_combine(client, agent, states):
    assert _listed(client.get(f"{LIST}?paused=y&clicked=y").text) == []


def test_the_row_shows_the_last_email_and_when_the_next_is_due(app, client, agent, states):
    html = client.get(f"{LIST}?status=open").text
    with app.app_context():
        clicked = db.session.get(IncompleteOrder, states["clicked"])
        sent = shop_time(clicked.recovery_last_sent_at)
        from dashboard.recovery.rules import RecoverySettings, next_due_at

        due = shop_time(next_due_at(clicked, RecoverySettings.from_config()))
    row = _row(html, states["clicked"])
    assert "Step 1</span> sent" in row and sent in row
    assert f'Next <span class="text-nowrap">{due}</span>' in row
    # Paused and unsubscribed carts are due nothing.
    assert "Next" not in _row(html, states["paused"])
    assert "Next" not in _row(html, states["unsubscribed"])
    # Quiet for two hours, its first email (after an hour) is due now.
    assert "None sent" in _row(html, states["plain"])
    assert "Next due now" in _row(html, states["plain"])


def test_the_row_states_cost_the_same_queries_for_one_row_or_a_page(
    app, client, agent, make_incomplete_order, statements
):
    def page_queries():
        with statements() as seen:
            assert client.get(f"{LIST}?status=open").status_code == 200
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    first = make_incomplete_order()
    client.post(f"/incomplete-orders/{first}/notes", data={"body": "One note."})
    one = page_queries()
    for _ in range(6):
        order_id = make_incomplete_order()
        client.post(f"/incomplete-orders/{order_id}/notes", data={"body": "A note."})
    with app.app_context():
        for order_id in db.session.scalars(select(IncompleteOrder.id)):
            db.session.add(
                RecoveryAttempt(incomplete_order_id=order_id, step=1, clicked_at=utcnow())
            )
        db.session.commit()
    assert page_queries() == one


# --- the small things -------------------------------------------------------------------


def test_a_customer_without_a_name_is_shown_by_email_once(client, agent, make_incomplete_order):
    nameless = make_incomplete_order(name=None, email="only.email@example.com")
    row = _row(client.get(LIST).text, nameless)
    assert row.count("only.email@example.com") == 1


def test_clear_goes_back_to_the_view_the_menu_opens(client, agent):
    html = client.get(f"{LIST}?status=expired&stage=cart").text
    clear = re.search(r'<a class="btn btn-sm btn-link" href="([^"]+)">Clear</a>', html)
    assert unescape(clear[1]) == "/incomplete-orders/?status=open"
    menu = re.search(r'href="([^"]+)">Incomplete orders</a>', html)
    assert unescape(menu[1]) == unescape(clear[1])


def test_a_bad_value_is_explained_once_and_marked_on_its_field(client, agent):
    html = unescape(client.get(f"{LIST}?min_value=abc&created_from=notadate").text)
    assert html.count("Type an amount in figures, such as 12.50.") == 1
    assert html.count("Not a valid date value.") == 1
    assert re.search(r'<input[^>]*class="[^"]*is-invalid[^"]*"[^>]*name="min_value"', html)
    # The fragment names the fields not applied, for the filter form outside it.
    assert 'data-invalid-fields="min_value created_from"' in html


def test_value_filters_say_the_shops_currency(client, agent):
    html = client.get(LIST).text
    assert "Value from (€)" in html and "Value to (€)" in html


def test_dates_are_shown_in_the_shops_zone_and_format(app, client, agent, make_incomplete_order):
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin.
    order_id = make_incomplete_order(snapshot_at=datetime(2026, 1, 31, 23, 30))
    assert "01 Feb 2026 00:30" in _row(client.get(LIST).text, order_id)


def test_empty_states_name_their_cause_and_offer_a_way_out(client, agent, make_incomplete_order):
    make_incomplete_order(name="Greta Hoffmann")
    search = unescape(client.get(f"{LIST}?status=open&q=zzzz").text)
    assert "No incomplete orders match the search “zzzz” with these filters." in search
    assert 'href="/incomplete-orders/?status=open">Clear the search</a>' in search

    status = unescape(client.get(f"{LIST}?status=converted").text)
    assert "No converted incomplete orders." in status
    assert 'href="/incomplete-orders/">Show every status</a>' in status

    filters = unescape(client.get(f"{LIST}?status=open&min_value=1000").text)
    assert "No incomplete orders match these filters." in filters
    assert "Filtered by Status: Open, Value from (€): 1000." in " ".join(filters.split())
    assert "clear all filters" in filters
    assert "wider date range" not in filters


# --- a big destructive bulk action asks for its count --------------------------------------


@pytest.fixture
def many_open(app):
    """1,001 open carts with an email, written in one statement."""
    now = utcnow()
    with app.app_context():
        db.session.execute(
            insert(IncompleteOrder),
            [
                {
                    "cart_id": f"bulk-{n}",
                    "email": f"bulk{n}@example.com",
                    "currency": "EUR",
                    "stage": "cart",
                    "status": "open",
                    "subtotal": 1000,
                    "created_at": now,
                    "updated_at": now,
                    "last_activity_at": now,
                    "status_changed_at": now,
                }
                for n in range(1001)
            ],
        )
        db.session.commit()


def _statuses(app):
    with app.app_context():
        return set(db.session.scalars(select(IncompleteOrder.status).distinct()))


def _text(response):
    """The page's text, tags stripped, spaces joined."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def _cancel_all(client, **extra):
    return client.post(
        "/incomplete-orders/bulk",
        data={"action": "cancel", "all_matching": "y", "filter_query": "status=open", **extra},
    )


def test_cancelling_more_than_a_thousand_asks_to_type_the_count(app, client, agent, many_open):
    confirm = _cancel_all(client)
    assert "type 1,001 to cancel them" in _text(confirm)
    assert 'name="typed_count"' in confirm.text

    missing = _cancel_all(client, confirm="y")
    assert "Nothing was changed: type 1,001" in _text(missing)
    assert 'name="typed_count"' in missing.text  # the confirm step again, to type it
    wrong = _text(_cancel_all(client, confirm="y", typed_count="1000"))
    assert "Nothing was changed: you typed 1,000, but 1,001 incomplete orders will change." in wrong
    assert _statuses(app) == {"open"}

    done = _cancel_all(client, confirm="y", typed_count="1,001")
    assert done.status_code == 302
    assert _statuses(app) == {"cancelled"}


def test_a_thousand_or_fewer_and_sending_emails_need_no_typed_count(app, client, agent, many_open):
    emails = unescape(
        client.post(
            "/incomplete-orders/bulk",
            data={"action": "send_next", "all_matching": "y", "filter_query": "status=open"},
        ).text
    )
    assert 'name="typed_count"' not in emails
    with app.app_context():
        ids = list(db.session.scalars(select(IncompleteOrder.id).limit(1000)))
    ticked = client.post(
        "/incomplete-orders/bulk",
        data={"action": "expire", "ids": ids, "confirm": "y"},
    )
    assert ticked.status_code == 302
    with app.app_context():
        expired = db.session.scalar(
            select(db.func.count()).where(IncompleteOrder.status == "expired")
        )
    assert expired == 1000


# --- the export follows the list ------------------------------------------------------------


def _csv_ids(response):
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(response.text))]


def test_the_export_follows_the_filters_and_the_sort(client, agent, make_incomplete_order):
    def priced(price, **kw):
        return make_incomplete_order(items=[ItemSnapshot("S", "Thing", 1, price)], **kw)

    low, high, middle = priced(1000), priced(9000), priced(5000)
    priced(7000, status="expired")
    response = client.get("/incomplete-orders/export.csv?status=open&sort=-value")
    assert _csv_ids(response) == [high, middle, low]
    response = client.get("/incomplete-orders/export.csv?status=open&sort=value")
    assert _csv_ids(response) == [low, middle, high]


def test_the_export_says_when_the_last_email_went_and_whether_recovery_is_paused(
    app, client, agent, make_incomplete_order
):
    order_id = make_incomplete_order()
    _set(
        app,
        order_id,
        recovery_attempts=1,
        recovery_last_sent_at=datetime(2026, 3, 1, 9, 0),
        recovery_paused_at=datetime(2026, 3, 2, 10, 0),
    )
    (row,) = csv.DictReader(io.StringIO(client.get("/incomplete-orders/export.csv").text))
    # In the shop's zone (Berlin, UTC+1 in March).
    assert row["last_email_sent_at"] == "2026-03-01T10:00:00+01:00"
    assert row["recovery_paused_at"] == "2026-03-02T11:00:00+01:00"


def test_the_export_is_named_after_the_view_and_the_shops_day(app, client, agent):
    with app.app_context():
        today = to_shop_time(utcnow()).date().isoformat()
    response = client.get("/incomplete-orders/export.csv?status=open")
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="incomplete-orders-open-{today}.csv"'
    every = client.get("/incomplete-orders/export.csv").headers["Content-Disposition"]
    assert every == f'attachment; filename="incomplete-orders-all-{today}.csv"'
    # The export link on the page carries the list's filters and sort.
    html = unescape(client.get(f"{LIST}?status=expired&sort=value").text)
    assert 'href="/incomplete-orders/export.csv?status=expired&sort=value"' in html


def test_a_step_waiting_in_the_outbox_is_not_called_sent(client, agent, make_incomplete_order):
    order_id = make_incomplete_order(snapshot_at=utcnow() - timedelta(minutes=30))
    client.post(f"/incomplete-orders/{order_id}/recovery/send-next")
    row = _row(client.get("/incomplete-orders/?status=open").text, order_id)
    cell = re.search(r'<td class="small emails-cell">(.*?)</td>', row, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", cell).split())
    assert text.startswith("Step 1 waiting to go out") and "sent" not in text
