"""The overview: what needs attention now, each with its count and the list that holds
those rows; the most valuable open carts; the key counts of the queue, loaded after the
page."""

import html
import re
from datetime import timedelta

import pytest

from dashboard.audit.service import Actor
from dashboard.core import attention as attention_module
from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.line_items import ItemSnapshot
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.returns.service import approve, submit
from dashboard.timeutil import utcnow
from tests.factories import STOREFRONT, draft_for, storefront_order


def test_overview_loads_status_counts_on_its_own_request(client, login, make_incomplete_order):
    login("viewer")
    for status in ("open", "open", "open", "expired", "cancelled"):
        make_incomplete_order(status=status)

    page = client.get("/")
    assert page.status_code == 200
    assert 'hx-get="/overview/status-counts"' in page.text

    counts = client.get("/overview/status-counts", headers={"HX-Request": "true"})
    assert counts.status_code == 200
    for label, value in (("Open", "3"), ("Converted", "0"), ("Expired", "1"), ("Cancelled", "1")):
        card = counts.text.split(f"{label} incomplete orders", 1)[1]
        assert f'<div class="stat-value tabular">{value}</div>' in card.split("</a>", 1)[0]


# --- what needs attention --------------------------------------------------------------


def attention(page):
    """{name: (count, count link or None, the item's words)} of the overview's items."""
    items = {}
    for name, body in re.findall(
        r'<li class="attention-item[^"]*" data-attention="([^"]+)">(.*?)</li>', page, re.S
    ):
        link = re.search(r'<a class="count-link[^"]*" href="([^"]+)">([^<]+)</a>', body)
        words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
        if link:
            items[name] = (link.group(2), html.unescape(link.group(1)), words)
        else:
            items[name] = (None, None, words)
    return items


def hrefs(page, name):
    body = re.search(rf'data-attention="{name}">(.*?)</li>', page, re.S).group(1)
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body)]


def add_email(key, status="queued", minutes_ago=0):
    row = outbox_row(
        "order_confirmation",
        key,
        "a@example.com",
        "Hi",
        "Hi",
        "<p>Hi</p>",
        now=utcnow() - timedelta(minutes=minutes_ago),
    )
    row.update(status=status, last_error="550 mailbox unavailable" if status == "failed" else None)
    insert_ignoring_duplicates([row])


def return_request(submitted_days_ago, approved_days_ago=None):
    """A request submitted by the storefront `submitted_days_ago` days ago, and approved
    `approved_days_ago` days ago (its parcel then due back RETURN_SHIP_BY_DAYS later)."""
    order = storefront_order(days_ago=submitted_days_ago + 2)
    request, _ = submit(
        draft_for(order), STOREFRONT, now=utcnow() - timedelta(days=submitted_days_ago)
    )
    if approved_days_ago is not None:
        approve(request, Actor.system("test"), now=utcnow() - timedelta(days=approved_days_ago))
    db.session.flush()
    return request


def delivery_run(minutes_ago, outcome="ok", error=None):
    started = utcnow() - timedelta(minutes=minutes_ago)
    db.session.add(
        JobRun(
            job="delivery",
            trigger="schedule",
            holder="web-1:1:abc",
            started_at=started,
            finished_at=started + timedelta(seconds=1),
            outcome=outcome,
            error=error,
        )
    )


def list_count(page):
    return re.search(r'data-count-text="([^"]+)"', page).group(1)


@pytest.fixture
def going_out(app, monkeypatch, return_settings):
    """The jobs run here: a process holds the lease and delivered a minute ago."""
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    with app.app_context():
        assert lease.try_acquire("web-1:1:abc", 60)
        delivery_run(minutes_ago=1)
        db.session.commit()


def test_each_thing_needing_attention_shows_its_count_and_opens_its_list(
    app, client, login, going_out
):
    with app.app_context():
        late = [return_request(submitted_days_ago=3) for _ in range(2)]
        return_request(submitted_days_ago=0)  # within its 48 h
        parcel = return_request(submitted_days_ago=16, approved_days_ago=15)  # due back 1 day ago
        return_request(submitted_days_ago=2, approved_days_ago=1)  # due back in 13 days
        for n in range(3):
            add_email(f"failed-{n}", status="failed", minutes_ago=200)  # long ago still counts
        add_email("sent", status="sent", minutes_ago=30)
        add_email("late-1", minutes_ago=30)
        add_email("late-2", minutes_ago=12)
        add_email("on-time", minutes_ago=2)
        db.session.commit()
        late_numbers = sorted(r.number for r in late)
        parcel_number = parcel.number
    login("viewer")

    page = client.get("/").text
    items = attention(page)
    # Most serious first: email that does not reach customers, then what is late.
    assert list(items) == ["failed_emails", "backlog", "returns_decision", "returns_ship_by"]

    count, link, words = items["returns_decision"]
    assert (count, link) == ("2", "/returns/?status=pending&overdue=decision")
    assert words.startswith("2 return requests have waited longer than 48 h for a decision.")
    assert sorted(re.findall(r">(RMA-\d{6})</a>", client.get(link).text)) == late_numbers

    count, link, words = items["returns_ship_by"]
    assert (count, link) == ("1", "/returns/?status=approved&overdue=ship_by")
    assert words.startswith("1 approved return is not back by its ship-by date.")
    assert re.findall(r">(RMA-\d{6})</a>", client.get(link).text) == [parcel_number]

    count, link, words = items["failed_emails"]
    assert (count, link) == ("3", "/outbox/?status=failed")
    assert words.startswith("3 emails failed and were not delivered.")
    assert list_count(client.get(link).text) == "3"

    # The outbox has no list of only the late emails: the count is not a link that would
    # claim so, the queued list and the jobs are offered beside it.
    count, link, words = items["backlog"]
    assert (count, link) == (None, None)
    assert words.startswith("2 emails have waited more than 10 minutes past their time to go out.")
    assert hrefs(page, "backlog") == ["/outbox/?status=queued", "/jobs/"]
    assert "Nothing needs attention" not in page


def test_email_not_going_out_is_said_with_where_to_look(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    login("viewer")

    page = client.get("/").text
    assert list(attention(page)) == ["scheduler"]
    assert "No process is running the scheduled jobs" in attention(page)["scheduler"][2]
    assert 'role="alert"' in page
    assert hrefs(page, "scheduler") == ["/jobs/"]

    # A process holds the lease, but its delivery job last started 25 minutes ago.
    with app.app_context():
        assert lease.try_acquire("web-1:1:abc", 60)
        delivery_run(minutes_ago=25)
        db.session.commit()
    items = attention(client.get("/").text)
    assert list(items) == ["delivery"]
    assert items["delivery"][2].startswith(
        "The outbox delivery job last ran 25 min ago (it runs every 60 s): emails are not going out."
    )

    # It ran again, and failed.
    with app.app_context():
        delivery_run(minutes_ago=0, outcome="error", error="SMTPConnectError: refused")
        db.session.commit()
    items = attention(client.get("/").text)
    assert items["delivery"][2].startswith(
        "The last outbox delivery run ended with an error: SMTPConnectError: refused"
    )

    # Another process runs the jobs while this one has them off: nothing to say about it.
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", False)
    with app.app_context():
        delivery_run(minutes_ago=0)
        db.session.commit()
    assert attention(client.get("/").text) == {}


def test_scheduled_jobs_off_and_no_process_running_them_is_said(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", False)
    login("viewer")
    items = attention(client.get("/").text)
    assert list(items) == ["scheduler"]
    assert items["scheduler"][2].startswith(
        "Scheduled jobs are off here (SCHEDULER_ENABLED is false)"
    )


def test_nothing_needing_attention_is_said_plainly(app, client, login, going_out):
    with app.app_context():
        return_request(submitted_days_ago=1)
        add_email("sent", status="sent", minutes_ago=30)
        add_email("on-time", minutes_ago=2)
        db.session.commit()
    login("viewer")
    page = client.get("/").text
    assert attention(page) == {}
    assert "Nothing needs attention now" in page
    assert 'role="alert"' not in page


# --- the most valuable open carts ------------------------------------------------------


# Up to FEW_OPEN open carts are picked from the status index; more, from the value index.
@pytest.mark.parametrize("few_open", [attention_module.FEW_OPEN, 3])
def test_the_most_valuable_open_carts_link_to_each_cart_and_to_the_list_by_value(
    app, client, login, make_incomplete_order, statements, monkeypatch, few_open
):
    monkeypatch.setattr(attention_module, "FEW_OPEN", few_open)

    def worth(value):
        return [ItemSnapshot("SKU-1", "Linen shirt", 1, value)]

    login("viewer")
    values = [1500, 90000, 4000, 250, 12000, 7000, 3000]
    ids = {v: make_incomplete_order(items=worth(v), name=f"Buyer {v}") for v in values}
    make_incomplete_order(status="converted", items=worth(500000), name="Bought")
    make_incomplete_order(status="expired", items=worth(400000), name="Gone")

    with statements() as seen:
        fragment = client.get("/overview/top-carts", headers={"HX-Request": "true"}).text
    shown = re.findall(r'<a class="fw-medium" href="([^"]+)">([^<]+)</a>', fragment)
    top = [90000, 12000, 7000, 4000, 3000]
    assert shown == [(f"/incomplete-orders/{ids[v]}", f"Buyer {v}") for v in top]
    assert "€900.00" in fragment and "<script" not in fragment
    assert 'href="/incomplete-orders/?status=open&amp;sort=-value"' in fragment
    carts = [s for s in seen if "FROM incomplete_orders" in s]
    assert len(carts) == 2, carts  # how many are open, then the five: none per cart

    # The list it links to starts with the same carts in the same order.
    listed = client.get("/incomplete-orders/?status=open&sort=-value").text
    rows = re.findall(r'href="/incomplete-orders/(\d+)[^"]*" data-row-link', listed)
    assert [int(i) for i in rows[:5]] == [ids[v] for v in top]


def test_no_open_cart_is_said(client, login, make_incomplete_order):
    login("viewer")
    make_incomplete_order(status="converted")
    assert "No open carts right now." in client.get("/overview/top-carts").text


# --- who may see it --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/overview/top-carts", "/overview/status-counts"])
def test_a_viewer_sees_the_overview_and_a_visitor_is_sent_to_sign_in(client, login, path):
    assert client.get(path).status_code == 302
    login("viewer")
    assert client.get(path).status_code == 200
