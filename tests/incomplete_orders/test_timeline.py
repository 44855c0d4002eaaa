"""A cart's timeline as an agent reads it on the cart's page: what the storefront's
snapshots changed, every recovery email's fate, the customer's clicks and unsubscribes,
staff changes and notes, the conversion — each with who, newest first, in a bounded
number of queries however long the history."""

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.incomplete_orders import timeline as timeline_module
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderEvent
from dashboard.recovery.tokens import unsubscribe_token
from dashboard.timeutil import utcnow
from tests.factories import at, hours, items
from tests.helpers import csrf_token_from


def entries(html):
    """The text of each timeline entry on a cart's page, newest first."""
    section = html[html.index('id="timeline"') :]
    section = section[: section.index("</section>")]
    texts = []
    for chunk in section.split('<li class="timeline-entry')[1:]:
        text = re.sub(r"<[^>]+>", " ", chunk.split(">", 1)[1])
        texts.append(" ".join(unescape(text).split()))
    return texts


def entry(html, *words):
    """The one entry that holds all of `words`."""
    found = [e for e in entries(html) if all(w in e for w in words)]
    assert len(found) == 1, (words, entries(html))
    return found[0]


def cart_id_of(app, cart_ref):
    with app.app_context():
        return db.session.scalar(
            select(IncompleteOrder.id).where(IncompleteOrder.cart_id == cart_ref)
        )


def cart_events(app, order_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(IncompleteOrderEvent)
            .where(IncompleteOrderEvent.incomplete_order_id == order_id)
        )


def post(client, path, **data):
    token = csrf_token_from(client.get("/incomplete-orders/").text)
    return client.post(path, data={"csrf_token": token, **data})


# --- what the storefront's snapshots changed ------------------------------------------------


def test_each_snapshot_that_changed_something_reads_in_words(app, client, login, storefront):
    assert storefront.put_cart("c-words", snapshot_at=at(120), stage="cart").status_code == 201
    order_id = cart_id_of(app, "c-words")
    assert cart_events(app, order_id) == 1
    # Looked at again, nothing changed: activity, but no event.
    assert storefront.put_cart("c-words", snapshot_at=at(110), stage="cart").status_code == 200
    assert cart_events(app, order_id) == 1
    storefront.put_cart(
        "c-words",
        snapshot_at=at(100),
        stage="checkout",
        items=items(("SKU-1", 3, 2500), ("SKU-2", 1, 1000), ("SKU-3", 2, 450)),
    )
    storefront.put_cart(
        "c-words",
        snapshot_at=at(90),
        stage="checkout",
        email="ada.l@example.com",
        name="Ada King",
        items=items(("SKU-1", 3, 2500), ("SKU-3", 2, 450)),
    )
    assert cart_events(app, order_id) == 3

    login("agent")
    page = client.get(f"/incomplete-orders/{order_id}").text
    texts = entries(page)
    started = entry(page, "Customer started the cart with 2 × Product SKU-1, 1 × Product SKU-2")
    assert "Cart received from the storefront" in started
    assert "Customer, via Storefront (API key)" in started
    changed = entry(page, "Moved from Cart to Checkout")
    assert "Added 2 × Product SKU-3" in changed
    assert "Product SKU-1: quantity 2 → 3" in changed
    assert "Value €60.00 → €94.00" in changed
    assert "Customer, via Storefront (API key)" in changed
    contact = entry(page, "Removed 1 × Product SKU-2")
    assert "Email changed from ada@example.com to ada.l@example.com" in contact
    assert "Name changed from Ada Lovelace to Ada King" in contact
    # Newest first; the storefront's own audit events are not told twice.
    assert texts.index(contact) < texts.index(changed) < texts.index(started)
    assert "Changed the items and contact details" in contact
    assert sum("Customer, via Storefront (API key)" in t for t in texts) == 3
    assert sum("Cart received from the storefront" in t for t in texts) == 1


def test_new_activity_on_an_expired_cart_says_it_reopened(app, client, login, storefront):
    storefront.put_cart("c-expired", snapshot_at=at(120))
    order_id = cart_id_of(app, "c-expired")
    login("agent")
    post(client, f"/incomplete-orders/{order_id}/expire")
    storefront.put_cart("c-expired", snapshot_at=at(10), items=items(("SKU-1", 1, 2500)))
    page = client.get(f"/incomplete-orders/{order_id}").text
    reopened = entry(page, "Reopened: the expired cart had new activity")
    assert "Removed 1 × Product SKU-2" in reopened
    assert "agent@example.com" in entry(page, "Expired")


# --- recovery emails, clicks, unsubscribes -------------------------------------------------


@pytest.fixture
def cart_with_email(recovery_settings, quiet_cart):
    return quiet_cart(hours_ago=2, email="ada@example.com", name="Ada Lovelace")


def test_recovery_emails_queued_sent_clicked_withdrawn_with_who(
    app, client, login, shop, cart_with_email, smtp_server
):
    order_id, quiet = cart_with_email
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    restore = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert client.get(restore[restore.index("/r/") :].split()[0]).status_code == 303

    later = utcnow() + hours(24)  # step 2 waits its spacing after step 1 went out
    shop.run(later)
    assert [s.step for s in shop.steps(order_id)] == [1, 2]
    login("agent")
    post(client, f"/incomplete-orders/{order_id}/recovery/pause")
    shop.deliver(later)  # step 2 is no longer wanted when it is to go out
    post(client, f"/incomplete-orders/{order_id}/recovery/resume")

    page = client.get(f"/incomplete-orders/{order_id}").text
    assert "Reclaim (test-recovery)" in entry(
        page, "Recovery email step 1 queued for ada@example.com"
    )
    assert "Reclaim (email delivery)" in entry(
        page, "Recovery email step 1 sent to ada@example.com"
    )
    assert "Customer (ada@example.com)" in entry(
        page, "Customer clicked the restore link in recovery email step 1"
    )
    withdrawn = entry(page, "Recovery email step 2 withdrawn before it went out: paused by")
    assert "agent@example.com" in withdrawn
    texts = entries(page)  # at the same moment: what happened later reads first
    assert texts.index(withdrawn) < texts.index(entry(page, "Recovery email step 2 queued for"))
    assert "agent@example.com" in entry(page, "Recovery emails paused")
    assert "agent@example.com" in entry(page, "Recovery emails resumed")


def test_a_failed_delivery_and_a_skipped_step_say_so(
    app, client, login, shop, cart_with_email, smtp_server
):
    order_id, quiet = cart_with_email
    shop.run(quiet + hours(30))  # the scheduler was down: steps 1 and 2 are both due
    smtp_server.answer("550 mailbox unavailable")
    shop.deliver(quiet + hours(30))
    login("agent")
    page = client.get(f"/incomplete-orders/{order_id}").text
    # Skipped by the run that queued step 2 instead.
    assert "Reclaim (test-recovery)" in entry(
        page, "Recovery email step 1 skipped: step 2 was already due"
    )
    failed = entry(page, "Recovery email step 2 could not be delivered")
    assert "550" in failed and "mailbox unavailable" in failed


def test_unsubscribe_and_resubscribe_from_the_email_links(app, client, login, cart_with_email):
    order_id, _ = cart_with_email
    with app.app_context():
        token = unsubscribe_token("ada@example.com")
    assert client.post(f"/u/{token}").status_code == 200
    assert client.post(f"/u/{token}/resubscribe").status_code == 200
    login("agent")
    page = client.get(f"/incomplete-orders/{order_id}").text
    texts = entries(page)
    gone = entry(page, "Customer unsubscribed")
    back = entry(page, "Customer asked for reminders again")
    assert "Customer (ada@example.com)" in gone and "Customer (ada@example.com)" in back
    assert "No recovery emails to ada@example.com, for any of its carts" in gone
    assert "Recovery emails to ada@example.com may go out again" in back
    assert texts.index(back) < texts.index(gone)


# --- staff, notes, conversion ---------------------------------------------------------------


def test_notes_staff_changes_and_the_conversion_with_who(app, client, login, storefront):
    storefront.put_cart("c-staff", snapshot_at=at(120))
    order_id = cart_id_of(app, "c-staff")
    login("agent")
    post(client, f"/incomplete-orders/{order_id}/notes", body="Calls back at 3 pm.\nPrefers DHL.")
    post(client, f"/incomplete-orders/{order_id}/convert", payment="awaiting")
    page = client.get(f"/incomplete-orders/{order_id}").text
    note = entry(page, "Note added")
    assert "Calls back at 3 pm." in note and "Prefers DHL." in note
    assert "agent@example.com" in note
    converted = entry(page, "Converted into order")
    assert "agent@example.com" in converted and "Awaiting payment" in converted
    number = re.search(r"Converted into order (\S+)", converted).group(1)
    assert re.search(rf'href="/orders/\d+" class="font-monospace">{re.escape(number)}</a>', page)


def test_customer_text_in_the_timeline_is_escaped(app, client, login, storefront):
    storefront.put_cart("c-xss", snapshot_at=at(120))
    storefront.put_cart("c-xss", snapshot_at=at(60), name="<script>alert(1)</script>")
    login("agent")
    page = client.get(f"/incomplete-orders/{cart_id_of(app, 'c-xss')}").text
    assert "<script>alert(1)</script>" not in page
    assert "Name changed from Ada Lovelace to &lt;script&gt;" in page


# --- bounded ------------------------------------------------------------------------------


def _long_history(client, storefront, cart_ref, changes):
    for n in range(changes):
        storefront.put_cart(cart_ref, snapshot_at=at(500 - n), items=items(("SKU-1", n + 1, 2500)))
        if n % 3 == 0:
            post(
                client,
                f"/incomplete-orders/{cart_id_of(client.application, cart_ref)}/notes",
                body=f"Note {n}",
            )


def test_the_page_asks_the_same_number_of_queries_for_a_short_or_long_history(
    app, client, login, storefront, statements
):
    login("agent")
    _long_history(client, storefront, "c-short", 2)
    _long_history(client, storefront, "c-long", 40)
    short, long_ = cart_id_of(app, "c-short"), cart_id_of(app, "c-long")
    client.get(f"/incomplete-orders/{short}")
    with statements() as one:
        client.get(f"/incomplete-orders/{short}")
    with statements() as many:
        page = client.get(f"/incomplete-orders/{long_}").text
    assert len(many) == len(one)
    assert len(entries(page)) > 50
    assert "Older entries not shown" not in page


def test_a_very_long_history_is_cut_with_a_note(app, client, login, storefront, monkeypatch):
    monkeypatch.setattr(timeline_module, "TIMELINE_LIMIT", 10)
    login("agent")
    _long_history(client, storefront, "c-cut", 15)
    order_id = cart_id_of(app, "c-cut")
    page = client.get(f"/incomplete-orders/{order_id}").text
    assert len(entries(page)) == 10
    assert "Older entries not shown: these are the latest 10." in page
    assert f"/audit/?record_type=incomplete_order&amp;record_id={order_id}" in page
    assert any("Note 12" in e for e in entries(page))  # the latest are the ones kept


def test_an_orders_page_tells_the_story_of_the_cart_it_came_from(
    app, client, login, shop, cart_with_email, smtp_server, storefront
):
    order_id, quiet = cart_with_email
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    login("agent")
    post(client, f"/incomplete-orders/{order_id}/notes", body="Will pay by bank transfer.")
    post(client, f"/incomplete-orders/{order_id}/convert", payment="awaiting")
    with app.app_context():
        made = db.session.get(IncompleteOrder, order_id).converted_order.id
    page = client.get(f"/orders/{made}").text
    assert "Before the order: the cart's timeline" in page
    assert "Reclaim (email delivery)" in entry(
        page, "Recovery email step 1 sent to ada@example.com"
    )
    assert "Will pay by bank transfer." in entry(page, "Note added")
    assert "agent@example.com" in entry(page, "Converted into order")
    # An order that came from no cart has no such section.
    assert storefront.post_order().status_code == 201
    listing = client.get("/orders/").text
    other = max(int(i) for i in re.findall(r'href="/orders/(\d+)"', listing))
    assert "the cart's timeline" not in client.get(f"/orders/{other}").text
