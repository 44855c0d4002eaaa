"""Every email a return request sends, read where the customer would: at a real SMTP
server on loopback, after the outbox delivered it. Short, with the facts the customer
needs, and the customer's own text escaped in the HTML."""

from datetime import timedelta

import pytest

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.formatting import money, shop_time
from dashboard.outbox.delivery import deliver_due
from dashboard.outbox.models import OutboxMessage
from dashboard.returns import service
from dashboard.returns.models import ReturnRequest
from tests.factories import STOREFRONT, storefront_order, submitted

AGENT = Actor("staff", 1, "ana@shop.example")
COMMENT = 'The <b>zip</b> broke & the "colour" is off'


class Inbox:
    """What the customer received, delivered through the outbox one move at a time."""

    def __init__(self, app, smtp_server):
        self.app, self.server = app, smtp_server

    def latest(self):
        """Deliver what is due and return the newest email as (subject, text, html)."""
        with self.app.app_context():
            counts = deliver_due()
            assert counts["sent"] >= 1 and counts["failed"] == 0, counts
            assert db.session.query(OutboxMessage).filter_by(status="queued").count() == 0
        message = self.server.messages[-1]
        assert message["To"] == "ada@example.com"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        return message["Subject"], text, html


@pytest.fixture
def inbox(app, smtp_server):
    return Inbox(app, smtp_server)


def move(app, request_id, do):
    with app.app_context():
        request = db.session.get(ReturnRequest, request_id)
        do(request)
        db.session.commit()


def request_in_shop(app, **kwargs):
    with app.app_context():
        request = submitted(storefront_order(delivered_days_ago=2), **kwargs)
        db.session.commit()
        return request.id, request.number


def facts(app, request_id, *names):
    with app.app_context():
        request = db.session.get(ReturnRequest, request_id)
        return [getattr(request, name) for name in names]


def test_the_acknowledgement_says_what_was_received_when_and_when_to_expect_a_decision(app, inbox):
    request_id, number = request_in_shop(app, comment=COMMENT)
    subject, text, html = inbox.latest()
    submitted_at, order = facts(app, request_id, "submitted_at", "order")
    assert subject == f"We received your return request {number}"
    with app.app_context():
        when = shop_time(submitted_at)
        due = shop_time(submitted_at + timedelta(hours=48))
        estimate = money(6000, "EUR")
    for body in (text, html):
        assert number in body and order.number in body
        assert when in body and due in body
        assert "Product SKU-1" in body and "Size or fit" in body
        assert estimate in body
    assert "Product SKU-1 x 2: Size or fit" in text
    assert COMMENT in text
    assert "The &lt;b&gt;zip&lt;/b&gt; broke &amp; the &#34;colour&#34; is off" in html
    assert "<b>zip</b>" not in html


def test_the_approval_says_what_to_send_back_by_when_and_the_estimate(app, inbox):
    request_id, number = request_in_shop(app)
    inbox.latest()

    def approve_one_shirt(request):
        shirts = next(line for line in request.lines if line.sku == "SKU-1")
        service.approve(request, AGENT, {shirts.id: 1}, "Keep the <other> one.")

    move(app, request_id, approve_one_shirt)
    subject, text, html = inbox.latest()
    [ship_by] = facts(app, request_id, "ship_by_at")
    assert subject == f"Your return request {number} is approved"
    with app.app_context():
        by, estimate = shop_time(ship_by, "%d %b %Y"), money(3500, "EUR")
    assert "- Product SKU-1 x 1 (of the 2 you asked to return)" in text
    assert "- Product SKU-2 x 1\r\n" in text  # CRLF, as it came over SMTP
    assert "× 1 (of the 2 you asked to return)" in html
    assert f"send them back to us by {by}" in text and by in html
    assert f"Expected refund: {estimate}" in text and estimate in html
    assert "Keep the <other> one." in text and "Keep the &lt;other&gt; one." in html


def test_the_rejection_carries_only_the_note_for_the_customer(app, inbox):
    request_id, number = request_in_shop(app)
    inbox.latest()
    move(app, request_id, lambda r: service.reject(r, AGENT, "suspected_abuse", "Sorry, no."))
    subject, text, html = inbox.latest()
    assert subject == f"About your return request {number}"
    assert "Sorry, no." in text and "Sorry, no." in html
    for body in (text, html):
        assert "abuse" not in body.lower() and "suspected" not in body.lower()


def test_parcel_received_lists_each_line_with_damaged_and_missing(app, inbox):
    request_id, number = request_in_shop(app)
    move(app, request_id, lambda r: service.approve(r, AGENT))

    def receive(request):
        shirts = next(line for line in request.lines if line.sku == "SKU-1")
        service.receive(request, AGENT, {shirts.id: (1, 1)}, "One shirt was not in the parcel.")

    move(app, request_id, receive)
    subject, text, html = inbox.latest()
    assert subject == f"Your returned parcel arrived ({number})"
    assert "- Product SKU-1: 1 of 2, 1 damaged, 1 missing" in text
    assert "- Product SKU-2: 1 of 1" in text
    assert "1 of 2, 1 damaged, 1 missing" in html
    assert "One shirt was not in the parcel." in text and "One shirt was not in the parcel." in html


def test_the_completion_gives_amount_method_reference_and_explains_a_difference(app, inbox):
    request_id, number = request_in_shop(app)
    move(app, request_id, lambda r: service.approve(r, AGENT))

    def receive(request):
        shirts = next(line for line in request.lines if line.sku == "SKU-1")
        service.receive(request, AGENT, {shirts.id: (1, 0)}, "One shirt missing.")

    move(app, request_id, receive)
    move(
        app,
        request_id,
        lambda r: service.complete(
            r,
            AGENT,
            method="original_payment",
            reference="re_3PqX",
            amount=3000,
            note="The belt came back scratched.",
        ),
    )
    subject, text, html = inbox.latest()
    assert subject == f"Your return {number} is complete"
    with app.app_context():
        amount, estimate, less = money(3000, "EUR"), money(6000, "EUR"), money(3000, "EUR")
    assert f"We refunded {amount} to your original payment method (reference re_3PqX)." in text
    assert f"That is {less} less than the {estimate} we expected:" in text
    assert "- 1 of “Product SKU-1” did not arrive." in text
    assert "- The belt came back scratched." in text
    assert "re_3PqX" in html and "did not arrive" in html


def test_a_replacement_shipped_says_so(app, inbox):
    request_id, number = request_in_shop(app, type="exchange")
    move(app, request_id, lambda r: service.approve(r, AGENT))
    move(app, request_id, lambda r: service.receive(r, AGENT))
    move(
        app,
        request_id,
        lambda r: service.complete(r, AGENT, method="replacement", reference="DHL 1"),
    )
    _, text, html = inbox.latest()
    assert f"your replacement for return {number} is on its way. Reference: DHL 1." in text
    assert "refunded" not in text


def test_the_cancellation_says_who_asked(app, inbox):
    request_id, number = request_in_shop(app)
    inbox.latest()
    move(app, request_id, lambda r: service.cancel(r, STOREFRONT, by_customer=True))
    subject, text, html = inbox.latest()
    assert subject == f"Your return request {number} is cancelled"
    assert f"request {number} for order" in text and "is cancelled, as you asked." in text
    assert "as you asked" in html


def test_a_move_sends_its_email_once(app, inbox, smtp_server):
    request_id, number = request_in_shop(app)
    move(app, request_id, lambda r: service.approve(r, AGENT))
    inbox.latest()
    with app.app_context():
        assert deliver_due()["sent"] == 0
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [
        f"We received your return request {number}",
        f"Your return request {number} is approved",
    ]


def test_a_bulk_move_queues_each_email_and_delivery_writes_the_same_one(app, inbox, smtp_server):
    """Bulk approve and reject queue the customers' emails in one statement; delivery
    writes each from the request, word for word what a single move sends."""
    one_id, _ = request_in_shop(app)
    bulk_id, bulk_number = request_in_shop(app)
    reject_id, reject_number = request_in_shop(app)
    inbox.latest()
    note = "Please use the <prepaid> label."
    move(app, one_id, lambda r: service.approve(r, AGENT, note=note))
    single = inbox.latest()
    with app.app_context():
        approved = service.bulk_approve(ReturnRequest.id == bulk_id, AGENT, note, "ids")
        rejected = service.bulk_reject(
            ReturnRequest.id == reject_id, AGENT, "used_or_worn", "It was worn.", "ids"
        )
        db.session.commit()
        queued = db.session.query(OutboxMessage).filter_by(status="queued").all()
        assert (approved, rejected) == (1, 1)
        assert sorted((m.subject, m.body_html) for m in queued) == [
            (f"About your return request {reject_number}", None),
            (f"Your return request {bulk_number} is approved", None),
        ]
        assert deliver_due()["sent"] == 2
    by_subject = {m["Subject"]: m for m in smtp_server.messages[-2:]}
    bulk = by_subject[f"Your return request {bulk_number} is approved"]
    text = bulk.get_body(("plain",)).get_content()
    with app.app_context():
        one, other = (db.session.get(ReturnRequest, i) for i in (one_id, bulk_id))
        expected = (
            single[1]
            .replace(one.number, other.number)
            .replace(one.order.number, other.order.number)
        )
    assert text == expected and "Please use the <prepaid> label." in text
    assert "&lt;prepaid&gt;" in bulk.get_body(("html",)).get_content()
    reject = by_subject[f"About your return request {reject_number}"]
    assert "It was worn." in reject.get_body(("plain",)).get_content()
    assert "used" not in reject.get_body(("plain",)).get_content().lower()
