"""The outbox pages: emails by status and kind; one email as the customer sees it, its text,
attempts and last error; customer-supplied text is escaped everywhere."""

import re
from html.parser import HTMLParser

from sqlalchemy import update

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.service import convert_to_order
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery import emails
from tests.factories import NOTHING, hours

SCRIPT = '<script>alert("owned")</script>'


class Iframes(HTMLParser):
    """The attributes of every <iframe> in a page, unescaped as a browser reads them."""

    def __init__(self, html):
        super().__init__()
        self.found = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.found.append(dict(attrs))


def set_status(app, message_id, **values):
    with app.app_context():
        db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
        )
        db.session.commit()


def some_emails(app, shop, quiet_cart):
    """Three recovery emails and one order confirmation, in three states."""
    carts = [quiet_cart(email=f"c{i}@example.com")[0] for i in range(3)]
    now = shop.cart(carts[-1]).last_activity_at + hours(1)
    shop.run(now)
    shop.deliver(now)  # written (and printed: the console backend)
    sent, failed, queued = (shop.outbox(cart_id)[0].id for cart_id in carts)
    set_status(app, sent, status="sent")  # as if an SMTP server had taken it
    set_status(app, failed, status="failed", attempts=3, last_error="550 no such user")
    set_status(app, queued, status="queued", attempts=0, sent_at=None)
    with app.app_context():
        convert_to_order(db.session.get(IncompleteOrder, carts[0]), Actor.system("test"))
        db.session.commit()
    (confirmation,) = [m.id for m in shop.outbox() if m.kind == "order_confirmation"]
    return {"sent": sent, "failed": failed, "queued": queued, "confirmation": confirmation}


def listed(html):
    """Ids of the emails a list page links to."""
    return {int(i) for i in re.findall(r'href="/outbox/(\d+)"', html)}


def test_the_list_filters_by_status_and_kind(app, client, login, shop, quiet_cart):
    emails = some_emails(app, shop, quiet_cart)
    login("viewer")

    page = client.get("/outbox/")
    assert page.status_code == 200
    assert listed(page.text) == set(emails.values())
    assert "4 emails" in page.text
    assert listed(client.get("/outbox/?status=failed").text) == {emails["failed"]}
    assert "550 no such user" in client.get("/outbox/?status=failed").text
    assert "1 email</span>" in client.get("/outbox/?status=failed").text
    assert listed(client.get("/outbox/?status=queued").text) == {
        emails["queued"],
        emails["confirmation"],
    }
    assert listed(client.get("/outbox/?kind=order_confirmation").text) == {emails["confirmation"]}
    assert listed(client.get("/outbox/?kind=recovery&status=sent").text) == {emails["sent"]}
    assert "No emails match." in client.get("/outbox/?kind=recovery&status=sending").text
    # An htmx request gets the table alone.
    fragment = client.get("/outbox/?status=failed", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and listed(fragment.text) == {emails["failed"]}


def test_an_email_shows_its_html_sandboxed_its_text_attempts_and_last_error(
    app, client, login, shop, quiet_cart
):
    emails = some_emails(app, shop, quiet_cart)
    login("viewer")
    message = shop.message(emails["failed"])

    page = client.get(f"/outbox/{message.id}")
    assert page.status_code == 200
    (iframe,) = Iframes(page.text).found
    # No scripts, forms, popups or navigation; same-origin only so the page can size it.
    assert iframe["sandbox"] == "allow-same-origin"
    # The email's HTML comes from its own address, under its own policy (inline styles only).
    preview = client.get(iframe["src"])
    assert preview.text == message.body_html
    assert "Return to my cart" in preview.text
    assert "style-src 'unsafe-inline'" in preview.headers["Content-Security-Policy"]
    assert "script-src" not in preview.headers["Content-Security-Policy"]
    assert "You left a few things in your cart" in page.text  # the text version
    assert "<dt>Attempts</dt><dd>3</dd>" in page.text
    assert "550 no such user" in page.text
    assert message.dedupe_key in page.text
    assert "List-Unsubscribe" in page.text
    assert ">Retry<" not in page.text  # viewers cannot retry


def test_customer_text_is_escaped_in_the_email_and_the_outbox_pages(
    app, client, login, shop, quiet_cart, smtp_server
):
    cart_id, quiet = quiet_cart(name=SCRIPT)
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    (message,) = shop.outbox(cart_id)
    assert SCRIPT not in message.body_html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in message.body_html
    assert f"Hello {SCRIPT}," in message.body_text  # plain text: shown as text

    html = smtp_server.messages[0].get_body(("html",)).get_content()
    assert SCRIPT not in html and "&lt;script&gt;" in html

    login("viewer")
    for path in ("/outbox/", f"/outbox/{message.id}"):
        page = client.get(path)
        assert page.status_code == 200
        assert "<script>alert(" not in page.text
    page = client.get(f"/outbox/{message.id}")
    assert "Hello &lt;script&gt;alert(" in page.text  # the text version, escaped
    (iframe,) = Iframes(page.text).found
    assert client.get(iframe["src"]).text == message.body_html  # still escaped in the frame


def test_the_outbox_needs_a_login(client, shop, quiet_cart):
    response = client.get("/outbox/")
    assert response.status_code == 302 and "/login" in response.location


def test_an_email_not_written_yet_shows_how_it_reads_now_or_why_it_would_be_withdrawn(
    app, client, login, shop, quiet_cart
):
    cart_id, quiet = quiet_cart(email="ada@example.com", name="Ada")
    shop.run(quiet + hours(1))
    (message,) = shop.outbox(cart_id)
    assert message.body_html is None  # written when it goes out
    login("viewer")

    assert "Step 1 reminder, written when it goes out" in client.get("/outbox/").text
    page = client.get(f"/outbox/{message.id}")
    assert page.status_code == 200
    assert "This is how it reads now." in page.text
    (iframe,) = Iframes(page.text).found
    preview = client.get(iframe["src"]).text
    assert "Hello Ada," in preview and "Return to my cart" in preview
    assert "List-Unsubscribe" in page.text
    assert shop.message(message.id).body_html is None  # looking writes nothing

    shop.update_cart(cart_id, recovery_paused_at=quiet, recovery_paused_by="agent@example.com")
    page = client.get(f"/outbox/{message.id}")
    assert "it would be withdrawn if it went out now: paused by agent@example.com" in page.text
    assert Iframes(page.text).found == []

    assert shop.deliver() == {**NOTHING, "withdrawn": 1}
    page = client.get(f"/outbox/{message.id}")
    assert "Withdrawn before it went out, so never written or sent: paused by agent@" in page.text
    assert listed(client.get("/outbox/?status=withdrawn").text) == {message.id}


def test_an_email_that_cannot_be_written_fails_alone_and_says_why(
    app, client, login, shop, quiet_cart, smtp_server, monkeypatch
):
    carts = [quiet_cart(email=f"c{i}@example.com")[0] for i in range(3)]
    shop.run(shop.cart(carts[-1]).last_activity_at + hours(1))
    write = emails.recovery_email

    def breaks_for_the_second_cart(order, step, to_email):
        if order.id == carts[1]:
            raise ValueError("no price for SKU-1")
        return write(order, step, to_email)

    monkeypatch.setattr(emails, "recovery_email", breaks_for_the_second_cart)
    assert shop.deliver() == {**NOTHING, "sent": 2, "failed": 1}
    assert sorted(m["To"] for m in smtp_server.messages) == ["c0@example.com", "c2@example.com"]
    (broken,) = shop.outbox(carts[1])
    assert (broken.status, broken.body_html) == ("failed", None)
    assert broken.last_error == "Could not write it: ValueError: no price for SKU-1"

    login("manager")
    page = client.get(f"/outbox/{broken.id}")
    assert "It cannot be written: ValueError: no price for SKU-1" in page.text
    assert ">Retry<" in page.text

    monkeypatch.setattr(emails, "recovery_email", write)  # the cause is fixed
    assert client.post(f"/outbox/{broken.id}/retry").status_code == 302
    assert shop.deliver() == {**NOTHING, "sent": 1}
    assert smtp_server.messages[-1]["To"] == "c1@example.com"


def test_an_email_that_went_out_without_its_content_kept_says_so(
    app, client, login, shop, quiet_cart
):
    """History from before the outbox kept what it sent (the demo's seeded emails): its page
    says when and to whom, and does not write it again as it would read now."""
    cart_id, quiet = quiet_cart(email="ada@example.com", name="Ada")
    shop.run(quiet + hours(1))
    (message,) = shop.outbox(cart_id)
    set_status(app, message.id, status="sent", sent_at=quiet + hours(1), attempts=1)
    login("viewer")

    page = client.get(f"/outbox/{message.id}")
    assert page.status_code == 200
    assert "before Reclaim kept what its emails said" in page.text
    assert "This is how it reads now." not in page.text
    assert Iframes(page.text).found == []
    assert client.get(f"/outbox/{message.id}/preview.html").status_code == 404
    assert shop.message(message.id).body_html is None  # looking writes nothing
