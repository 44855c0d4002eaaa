"""Bulk actions on incomplete orders as an agent meets them: the confirm step says exactly how
many carts will change and, per reason, how many will not — for ticked rows and for all
matching a filter — and the outcome says the same after the change."""

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from dashboard import bulk
from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.incomplete_orders.bulk import INCOMPLETE_ORDER_BULK, SEND_NEXT
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.line_items import ItemSnapshot
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import Suppression
from dashboard.timeutil import utcnow

REASON = re.compile(r'<li><span class="tabular">([\d,]+)</span> ([^<]+)</li>')


def _post(client, ids=(), htmx=False, **form):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        "/incomplete-orders/bulk",
        data={"ids": [str(i) for i in ids], **form},
        headers=headers,
    )


def _reasons(html):
    """{reason: count} as the confirm step lists them, in its order."""
    return {unescape(reason): int(n.replace(",", "")) for n, reason in REASON.findall(html)}


def _set(app, order_id, **values):
    with app.app_context():
        order = db.session.get(IncompleteOrder, order_id)
        for name, value in values.items():
            setattr(order, name, value)
        db.session.commit()


def _queued(app):
    with app.app_context():
        return sorted(db.session.scalars(select(OutboxMessage.dedupe_key)))


@pytest.fixture
def carts_for_send_next(app, make_incomplete_order, monkeypatch):
    """Two carts the next step goes to, and one held back by each reason, in the rules' order."""
    monkeypatch.setitem(app.config, "RECOVERY_MIN_CART_VALUE", 1000)
    now = utcnow()
    recent = now - timedelta(minutes=30)
    make = make_incomplete_order
    due = [make(snapshot_at=recent), make(snapshot_at=recent)]
    held = {
        "not open": make("expired", snapshot_at=recent),
        "no email address": make(snapshot_at=recent, email=None),
        "cart value below the minimum worth an email": make(
            snapshot_at=recent, items=[ItemSnapshot("SKU-9", "Socks", 1, 500)]
        ),
        "last active too long ago (RECOVERY_STOP_AFTER_DAYS)": make(
            snapshot_at=now - timedelta(days=10)
        ),
        "recovery emails paused": make(snapshot_at=recent),
        "unsubscribed": make(snapshot_at=recent, email="gone@example.com"),
        "bought since the cart's last activity": make(
            snapshot_at=recent, email="bought@example.com"
        ),
        "every step sent": make(snapshot_at=recent),
        "the previous email has not gone out yet": make(snapshot_at=recent),
        "emailed in the last 12 hours (send anyway to include them)": make(snapshot_at=recent),
    }
    _set(app, held["recovery emails paused"], recovery_paused_at=now, recovery_paused_by="a@b.c")
    _set(app, held["every step sent"], recovery_attempts=3, recovery_last_sent_at=now)
    _set(
        app,
        held["the previous email has not gone out yet"],
        recovery_attempts=1,
        recovery_queued_at=now - timedelta(minutes=3),
    )
    _set(
        app,
        held["emailed in the last 12 hours (send anyway to include them)"],
        recovery_attempts=1,
        recovery_last_sent_at=now - timedelta(hours=3),
    )
    with app.app_context():
        db.session.add(Suppression(email="gone@example.com"))
        db.session.add(
            Order(
                number="SHOP-1",
                source="storefront",
                currency="EUR",
                total=1000,
                placed_at=now - timedelta(minutes=5),
                email="bought@example.com",
            )
        )
        db.session.commit()
    return due, held


@pytest.mark.parametrize("all_matching", [False, True], ids=["ticked", "all matching"])
def test_send_next_confirm_counts_the_carts_it_sends_to_and_why_not_the_others(
    app, client, login, carts_for_send_next, all_matching
):
    login("agent")
    due, held = carts_for_send_next
    if all_matching:
        form = {"all_matching": "y", "filter_query": ""}
        word = "matching this filter"
    else:
        form = {"ids": [*due, *held.values()]}
        word = "selected"

    confirm = _post(client, action="send_next", **form)
    assert "Send the next recovery email to 2 incomplete orders?" in confirm.text
    assert f"10 of the 12 {word} will stay as they are" in confirm.text
    assert _reasons(confirm.text) == dict.fromkeys(held, 1)
    assert list(_reasons(confirm.text)) == list(held)  # in the rules' order
    assert _queued(app) == []

    done = _post(client, action="send_next", confirm="y", **form)
    assert _queued(app) == sorted(f"recovery:{i}:1" for i in due)
    message = client.get(done.headers["Location"]).text
    assert "Queued the next recovery email for 2 incomplete orders. 10 left as they were:" in (
        message
    )
    assert "1 no email address, 1 cart value below the minimum" in message


def test_send_next_in_bulk_includes_recently_emailed_carts_only_when_asked(
    app, client, login, carts_for_send_next
):
    login("agent")
    due, held = carts_for_send_next
    recent = held["emailed in the last 12 hours (send anyway to include them)"]
    form = {"ids": [*due, *held.values()]}

    confirm = _post(client, action="send_next", **form)
    assert "Include the 1 emailed recently (send anyway)" in confirm.text
    anyway = _post(client, action="send_next", send_anyway="y", **form)
    assert "Send the next recovery email to 3 incomplete orders?" in anyway.text
    assert 'name="send_anyway" value="y"' in anyway.text  # carried to the confirm
    assert "The audit log records it." in anyway.text

    _post(client, action="send_next", send_anyway="y", confirm="y", **form)
    assert _queued(app) == sorted([*(f"recovery:{i}:1" for i in due), f"recovery:{recent}:2"])
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recovery.send")
        ).all()
    assert {e.details["step"] for e in events} == {1, 2}  # one event per step queued
    assert all(e.details["send_anyway"] is True and e.details["manual"] for e in events)


def test_the_confirm_step_counts_in_one_query(app, carts_for_send_next, statements):
    due, held = carts_for_send_next
    ids = [*due, *held.values()]
    selection = bulk.Selection(IncompleteOrder.id.in_(ids), ids, "")
    with app.app_context(), statements() as seen:
        counts = bulk.count(INCOMPLETE_ORDER_BULK, SEND_NEXT, selection)
    assert (counts.selected, counts.will_change, counts.staying) == (12, 2, 10)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1


def test_cancel_counts_open_and_expired_and_leaves_the_rest_with_the_reason(
    app, client, login, make_incomplete_order
):
    login("agent")
    ids = [
        make_incomplete_order(),
        make_incomplete_order("expired"),
        make_incomplete_order("converted"),
        make_incomplete_order("cancelled"),
    ]
    confirm = _post(client, ids, action="cancel")
    assert "Cancel 2 incomplete orders?" in confirm.text
    assert "2 of the 4 selected will stay as they are" in confirm.text
    assert _reasons(confirm.text) == {"their status does not allow it": 2}
    assert "Only open or expired ones can be cancelled." in confirm.text
    assert 'type="submit">Cancel 2</button>' in confirm.text


def test_a_selection_nothing_can_change_says_so_and_offers_only_the_way_back(
    client, login, make_incomplete_order
):
    login("agent")
    ids = [make_incomplete_order("converted"), make_incomplete_order("cancelled")]
    confirm = _post(client, ids, action="expire")
    assert "None of the 2 selected will change." in confirm.text
    assert 'type="submit"' not in confirm.text.split('id="bulk-confirm-title"')[1]
    assert "Keep them as they are" in confirm.text


def test_all_matching_a_filter_that_now_matches_nothing(client, login, make_incomplete_order):
    login("agent")
    make_incomplete_order()
    confirm = _post(client, action="expire", all_matching="y", filter_query="status=expired")
    assert "No incomplete orders match this filter any more: nothing will change." in (confirm.text)


def test_htmx_confirm_is_a_fragment_whose_focus_is_on_the_way_back(
    client, login, make_incomplete_order
):
    login("agent")
    ids = [make_incomplete_order() for _ in range(2)]
    confirm = _post(client, ids, htmx=True, action="cancel", filter_query="status=open")
    assert "<html" not in confirm.text
    assert "HX-Request" in confirm.headers["Vary"]
    [focused] = re.findall(r"<[^>]*\bautofocus\b[^>]*>", confirm.text)
    assert "data-dismiss-bulk" in focused
    assert 'href="/incomplete-orders/?status=open"' in focused
    assert "autofocus" not in re.search(r"<button[^>]*>Cancel 2", confirm.text).group(0)
    # The confirm posts back into the slot it is shown in, not to one list's id.
    assert 'hx-target="closest [data-bulk-slot]"' in confirm.text


def test_htmx_done_reloads_the_list_it_came_from(app, client, login, make_incomplete_order):
    login("agent")
    ids = [make_incomplete_order() for _ in range(2)]
    done = _post(client, ids, htmx=True, action="expire", confirm="y")
    assert done.headers["HX-Trigger"] == INCOMPLETE_ORDER_BULK.changed_event
    assert "Expired 2 incomplete orders." in done.text
    page = client.get("/incomplete-orders/").text
    assert f'data-refresh-on="{INCOMPLETE_ORDER_BULK.changed_event}"' in page


def test_nothing_ticked_over_htmx_is_a_toast_and_changes_nothing(
    client, login, make_incomplete_order
):
    login("agent")
    make_incomplete_order()
    response = _post(client, htmx=True, action="expire", confirm="y")
    assert response.status_code == 204
    assert "Select at least one incomplete order first." in response.headers["HX-Trigger"]


@pytest.mark.parametrize("action", ["expire", "cancel", "send_next"])
def test_each_action_needs_the_role_it_declares(app, client, login, make_incomplete_order, action):
    order_id = make_incomplete_order()
    login("viewer")
    assert all(a.role == "agent" for a in INCOMPLETE_ORDER_BULK.actions)
    assert _post(client, [order_id], action=action).status_code == 403
    assert _post(client, [order_id], action=action, confirm="y").status_code == 403
    with app.app_context():
        assert db.session.get(IncompleteOrder, order_id).status == "open"
    assert _queued(app) == []


def test_viewers_see_no_bulk_bar_and_no_checkboxes(client, login, make_incomplete_order):
    make_incomplete_order()
    login("viewer")
    page = client.get("/incomplete-orders/").text
    assert "data-bulk-row" not in page and 'aria-label="Bulk actions"' not in page


def test_agents_see_a_button_per_declared_action(client, login, make_incomplete_order):
    make_incomplete_order()
    login("agent")
    page = client.get("/incomplete-orders/").text
    for action in INCOMPLETE_ORDER_BULK.actions:
        assert f'name="action" value="{action.name}">{action.label}…</button>' in page


def test_too_many_ticked_ids_is_a_bad_request(client, login):
    login("agent")
    ids = range(1, bulk.MAX_TICKED + 2)
    assert _post(client, ids, action="expire").status_code == 400
