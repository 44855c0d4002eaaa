"""Every list page has the same parts: a filter bar whose state is the URL, a header with the
count and the pager, and (in the audit log) links to the records events name, by kind."""

import re

import pytest
from werkzeug.datastructures import MultiDict

from dashboard.audit.service import Actor, record, record_bulk
from dashboard.extensions import db
from dashboard.incomplete_orders.forms import IncompleteOrderFilterForm
from dashboard.listing import Count, form_state

LISTS = {
    "/incomplete-orders/": "q",
    "/orders/": "q",
    "/outbox/": None,
    "/audit/": "actor",
}


@pytest.mark.parametrize("url", LISTS)
def test_every_list_has_the_one_filter_bar_and_list_header(client, login, url):
    login("agent")
    html = client.get(url).text
    [bar] = re.findall(r'<form id="filters"[^>]*>', html)
    assert 'role="search"' in bar and 'method="get"' in bar and 'hx-push-url="true"' in bar
    search = LISTS[url]
    if search:
        assert f"input changed delay:400ms from:#{search}" in bar
    assert ">Apply</button>" in html and ">Clear</a>" in html
    assert html.count("data-list-count") == 1
    assert 'aria-label="Pages"' in html


@pytest.mark.parametrize("url", LISTS)
def test_every_list_fragment_is_the_table_alone(client, login, url):
    login("agent")
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="filters"' not in fragment.text
    assert "data-list-count" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_a_filter_that_was_not_applied_is_explained_on_every_list(client, login):
    login("agent")
    for url, query in [
        ("/incomplete-orders/", "created_from=1999-01-01"),
        ("/orders/", "placed_from=1999-01-01"),
        ("/audit/", "record_id=0"),
    ]:
        html = client.get(f"{url}?{query}").text
        assert "Some filters were not applied" in html, url


def test_incomplete_orders_count_apart_and_the_others_inline(client, login, make_incomplete_order):
    login("agent")
    make_incomplete_order()
    carts = client.get("/incomplete-orders/?status=open&cursor=last").text
    assert "Counting…" in carts
    assert 'hx-get="/incomplete-orders/count?status=open"' in carts
    assert 'href="/incomplete-orders/export.csv?status=open"' in carts
    orders = client.get("/orders/").text
    assert "Counting…" not in orders and "0 matching" in orders


def test_the_list_state_keeps_what_was_typed_and_drops_the_cursor(app):
    with app.test_request_context():
        form = IncompleteOrderFilterForm(
            MultiDict(
                [("status", "open"), ("q", ""), ("min_value", "abc"), ("cursor", "after~x~1")]
            )
        )
        form.validate()
        assert form_state(form) == {"status": "open", "min_value": "abc"}


def test_counts_read_as_words():
    assert Count(1).words("email", "emails") == "1 email"
    assert Count(4).words("email", "emails") == "4 emails"
    assert Count(10_000, capped=True).words("email", "emails") == "10,000+ emails"
    assert str(Count(12_345)) == "12,345"


# --- audit links by kind --------------------------------------------------------------------


@pytest.fixture
def one_event_per_kind(app):
    """An event about each kind of record; returns the record ids."""
    actor = Actor.system("test")
    with app.app_context():
        record(actor, "incomplete_order.note", "incomplete_order", 11)
        record(actor, "order.create", "order", 22)
        record(actor, "outbox.retry", "outbox_message", 33)
        record(actor, "staff.create", "staff", 44)
        record(actor, "api_key.create", "api_key", 55)
        record(actor, "job.run_now", "job", None, job="recovery")
        record_bulk(actor, "incomplete_order.bulk_expire", "incomplete_order", [1, 2, 3])
        db.session.commit()


def test_audit_links_each_record_to_its_own_page(client, login, one_event_per_kind):
    login("manager")
    html = client.get("/audit/").text
    for href, text in [
        ("/incomplete-orders/11", "Incomplete order #11"),
        ("/orders/22", "Order #22"),
        ("/outbox/33", "Email #33"),
        ("/staff/", "Staff #44"),
        ("/api-keys/", "API key #55"),
        ("/jobs/", "Job"),
        ("/audit/?record_type=incomplete_order", "3 incomplete orders"),
    ]:
        assert f'<a href="{href}">{text}</a>' in html
    assert "order_id=" not in html


def test_audit_does_not_link_pages_the_reader_may_not_open(client, login, one_event_per_kind):
    login("viewer")
    html = client.get("/audit/").text
    assert 'href="/staff/"' not in html and 'href="/api-keys/"' not in html
    assert "Staff #44" in html and "API key #55" in html
    assert '<a href="/orders/22">Order #22</a>' in html


def test_audit_filters_by_every_kind_of_record(client, login, one_event_per_kind):
    login("viewer")
    html = client.get("/audit/?record_type=outbox_message").text
    assert '<a href="/outbox/33">Email #33</a>' in html
    assert "Order #22" not in html
