"""The audit log as staff read it: who by part of a name in any case, a range of shop days,
details in words, and counts with the right plural."""

import re
from datetime import datetime

import pytest
from sqlalchemy import update

from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor, record, record_bulk
from dashboard.extensions import db

ADA = Actor("staff", 901, "ada.lovelace@example.com")
BRUNO = Actor("staff", 902, "bruno@example.com")
KEY = Actor("api_key", 7, "Storefront production")
JOB = Actor.system("recovery")


@pytest.fixture
def log(app, monkeypatch):
    """Write events as (actor, action, record_type, record_id, details, created_at UTC);
    returns their ids in order."""
    monkeypatch.setitem(app.config, "SHOP_TIMEZONE", "Europe/Berlin")

    def write(*events):
        ids = []
        with app.app_context():
            # What the fixtures wrote before (the viewer's account) comes first, as in a
            # log written as things happen.
            db.session.execute(update(AuditEvent).values(created_at=at("2026-01-01 09:00")))
            for actor, action, record_type, record_id, details, when in events:
                event = record(actor, action, record_type, record_id, **details)
                db.session.execute(
                    update(AuditEvent).where(AuditEvent.id == event.id).values(created_at=when)
                )
                ids.append(event.id)
            db.session.commit()
        return ids

    return write


def rows(html):
    """The (who, what) of each listed event, in order."""
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return re.findall(r'<td class="small">([^<]+)<div class="text-secondary">', body)


def actions(html):
    """What each listed event did, in order."""
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return re.findall(r'</div></td>\s*<td class="audit-what">([^<]+)</td>', body)


def at(text):
    return datetime.fromisoformat(text)


@pytest.fixture
def viewer(login):
    return login("viewer")


def test_who_matches_part_of_a_name_in_any_case(log, client, viewer):
    log(
        (ADA, "staff.create", "staff", 1, {}, at("2026-11-30 10:00")),
        (BRUNO, "staff.create", "staff", 2, {}, at("2026-11-30 11:00")),
        (KEY, "incomplete_order.create", "incomplete_order", 3, {}, at("2026-11-30 12:00")),
        (JOB, "recovery.send", "incomplete_order", None, {"step": 1}, at("2026-11-30 13:00")),
    )
    assert rows(client.get("/audit/?actor=LOVELACE").text) == ["ada.lovelace@example.com"]
    assert rows(client.get("/audit/?actor=example.com").text) == [
        "bruno@example.com",
        "ada.lovelace@example.com",
    ]
    assert rows(client.get("/audit/?actor=storefront").text) == ["Storefront production"]
    assert rows(client.get("/audit/?actor=Recov").text) == ["recovery"]
    # The whole address, as typed, still works.
    assert rows(client.get("/audit/?actor=Bruno@Example.com").text) == ["bruno@example.com"]
    # Typed characters are text, not patterns.
    assert "No events match." in client.get("/audit/?actor=%25").text
    assert "No events match." in client.get("/audit/?actor=a_a").text


def test_a_range_of_shop_days_includes_both_ends_in_the_shops_zone(log, client, viewer):
    # Berlin is UTC+1 in winter: 23:30 UTC on 30 Nov is already 1 Dec in the shop.
    log(
        (ADA, "staff.create", "staff", 1, {}, at("2026-11-29 22:59")),  # 29 Nov 23:59
        (ADA, "staff.activate", "staff", 1, {}, at("2026-11-29 23:00")),  # 30 Nov 00:00
        (ADA, "staff.deactivate", "staff", 1, {}, at("2026-11-30 23:30")),  # 1 Dec 00:30
        (ADA, "staff.change_role", "staff", 1, {}, at("2026-12-01 22:59")),  # 1 Dec 23:59
        (ADA, "api_key.create", "api_key", 1, {}, at("2026-12-01 23:00")),  # 2 Dec 00:00
    )

    page = client.get("/audit/?date_from=2026-11-30&date_to=2026-12-01").text
    assert "3 events" in page
    assert actions(page) == [
        "Staff role changed",
        "Staff account deactivated",
        "Staff account reactivated",
    ]
    one_day = client.get("/audit/?date_from=2026-12-01&date_to=2026-12-01").text
    assert actions(one_day) == ["Staff role changed", "Staff account deactivated"]
    assert actions(client.get("/audit/?date_from=2026-11-29&date_to=2026-11-29").text) == [
        "Staff account created"
    ]
    assert actions(client.get("/audit/?date_from=2026-11-30").text) == [
        "API key created",
        "Staff role changed",
        "Staff account deactivated",
        "Staff account reactivated",
    ]
    assert "No events match." in client.get("/audit/?date_from=2026-12-03").text
    assert "No events match." in client.get("/audit/?date_to=2025-12-31").text


def test_a_range_that_ends_before_it_starts_says_so(log, client, viewer):
    log((ADA, "staff.create", "staff", 1, {}, at("2026-11-30 10:00")))
    page = client.get("/audit/?date_from=2026-11-30&date_to=2026-11-29").text
    assert "The last day is before the first. Swap them." in page
    assert page.count("The last day is before the first.") == 1
    assert "1 event<" in page  # the first day still applies


@pytest.mark.parametrize(
    ("query", "message"),
    [("date_from=2026-13-01", "Not a valid date value."), ("date_to=1999-12-31", "between 2000")],
)
def test_a_bad_date_is_not_applied_and_says_why(log, client, viewer, query, message):
    log((ADA, "staff.create", "staff", 1, {}, at("2026-11-30 10:00")))
    page = client.get(f"/audit/?{query}")
    assert page.status_code == 200
    assert message in page.text


def test_details_read_as_words(log, client, viewer):
    log(
        (
            ADA,
            "incomplete_order.convert",
            "incomplete_order",
            5,
            {"order_id": 9, "order_number": "RC-1009", "payment_received": False},
            at("2026-11-30 10:00"),
        ),
        (
            ADA,
            "staff.change_role",
            "staff",
            2,
            {"before": "agent", "after": "viewer"},
            at("2026-11-30 10:01"),
        ),
        (
            KEY,
            "order.delivered",
            "order",
            9,
            {"number": "RC-1009", "before": None, "after": "2026-11-30 14:05:00"},
            at("2026-11-30 10:02"),
        ),
        (
            KEY,
            "incomplete_order.update",
            "incomplete_order",
            5,
            {"items": 3, "subtotal": 12345, "stage": "payment_failed"},
            at("2026-11-30 10:03"),
        ),
        (
            ADA,
            "staff.change_password",
            "staff",
            901,
            {"replaced_temporary": True},
            at("2026-11-30 10:04"),
        ),
    )
    html = client.get("/audit/").text
    assert "payment_received" not in html and "False" not in html
    assert '<span class="text-secondary">payment received:</span> no' in html
    assert '<span class="text-secondary">order:</span> RC-1009' in html
    assert "order id" not in html  # the number says it
    assert '<span class="text-secondary">role:</span> agent → viewer' in html
    # Times in the shop's zone (Berlin, UTC+1).
    assert '<span class="text-secondary">delivered:</span> none → 30 Nov 2026 15:05' in html
    assert "123.45" in html  # the subtotal as money, not 12345 cents
    assert '<span class="text-secondary">stage:</span> payment failed' in html
    assert '<span class="text-secondary">replaced a temporary password:</span> yes' in html


def test_counts_of_records_have_the_right_plural(app, log, client, viewer):
    with app.app_context():
        record_bulk(ADA, "incomplete_order.bulk_expire", "incomplete_order", [11])
        record_bulk(ADA, "incomplete_order.bulk_cancel", "incomplete_order", [12, 13])
        record(JOB, "incomplete_order.purge", "incomplete_order", None, count=5, retention_days=180)
        record(JOB, "incomplete_order.purge", "incomplete_order", None, count=1, retention_days=180)
        db.session.commit()
    html = client.get("/audit/").text
    assert ">1 incomplete order</a>" in html
    assert ">2 incomplete orders</a>" in html
    assert ">5 incomplete orders</a>" in html
    assert "1 incomplete orders" not in html and "records" not in html
    # The count is in the Record column, not again among the details.
    assert '<span class="text-secondary">count:</span>' not in html
    assert '<span class="text-secondary">kept for days:</span> 180' in html


def test_control_characters_in_who_are_refused_not_a_server_error(log, client, viewer):
    log((ADA, "staff.create", "staff", 1, {}, at("2026-11-30 10:00")))
    page = client.get("/audit/", query_string={"actor": "ada\x1f"})
    assert page.status_code == 200
    assert "Type letters, digits and punctuation only." in page.text
    # A NUL is refused before any form sees it, on every page (tests/test_hostile_input.py).
    page = client.get("/audit/", query_string={"actor": "ada\x00"})
    assert page.status_code == 400
    assert "NUL character" in page.text
