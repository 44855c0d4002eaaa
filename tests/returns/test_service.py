"""The return workflow through its service: submit, approve (per line), reject, receive
(per line, damaged and missing), complete (the computed refund, or another amount with a
note), cancel, notes, a manager's override. Each move once, with its audit event, its
customer-visible event and its email in the outbox."""

import re
import threading

import pytest
from sqlalchemy import func, select

from dashboard.api_keys.service import issue_key
from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.formatting import money
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import render
from dashboard.returns import service
from dashboard.returns.models import ReturnEvent, ReturnNote, ReturnRequest
from dashboard.returns.rules import DraftLine, ReturnDraft
from dashboard.returns.service import (
    AlreadyMoved,
    Idempotency,
    IdempotencyConflict,
    NotEligible,
    OrderNotFound,
    Override,
    ReturnError,
)
from dashboard.signals import return_request_moved
from tests.factories import STOREFRONT, draft_for, storefront_order, submitted

AGENT = Actor("staff", 1, "ana@shop.example")
OTHER_AGENT = Actor("staff", 2, "ben@shop.example")


def actions(request_id):
    return db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.record_type == "return_request", AuditEvent.record_id == request_id)
        .order_by(AuditEvent.id)
    ).all()


def emails(request_id):
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.record_type == "return_request", OutboxMessage.record_id == request_id)
        .order_by(OutboxMessage.id)
    ).all()


def content(message):
    """What delivery will write for a queued email."""
    return render([message])[message.id]


def history(request):
    return [
        (e.event, e.actor_label, e.note)
        for e in db.session.scalars(
            select(ReturnEvent)
            .where(ReturnEvent.return_request_id == request.id)
            .order_by(ReturnEvent.id)
        )
    ]


def line(request, sku):
    return next(line for line in request.lines if line.sku == sku)


def test_a_submitted_request_is_pending_numbered_told_and_audited(ctx):
    order = storefront_order()
    request, created = service.submit(
        draft_for(order, ("SKU-1", 1), ("SKU-2", 1, "damaged"), comment="Too small"),
        STOREFRONT,
    )
    db.session.commit()
    assert created
    assert re.fullmatch(r"RMA-\d{6}", request.number) and request.number.endswith(str(request.id))
    assert request.status == "pending" and request.email == "ada@example.com"
    assert [(x.sku, x.quantity_requested, x.reason) for x in request.lines] == [
        ("SKU-1", 1, "size_or_fit"),
        ("SKU-2", 1, "damaged"),
    ]
    assert (request.units_requested, request.value_requested) == (2, 3500)
    assert history(request) == [("submitted", "Storefront", None)]
    assert actions(request.id) == ["return_request.submit"]
    [email] = emails(request.id)
    assert (email.kind, email.dedupe_key, email.to_email, email.status) == (
        "return",
        f"return:{request.id}:submitted",
        "ada@example.com",
        "queued",
    )
    assert email.subject == f"We received your return request {request.number}"


@pytest.mark.parametrize("email", ["ADA@Example.com", " ada@example.com "])
def test_the_email_matches_whatever_its_case(ctx, email):
    order = storefront_order()
    request, _ = service.submit(draft_for(order, email=email), STOREFRONT)
    assert request.email == "ada@example.com"


@pytest.mark.parametrize("wrong", ["number", "email"])
def test_an_unknown_order_and_a_wrong_email_get_the_same_answer(ctx, wrong):
    order = storefront_order()
    draft = draft_for(order)
    if wrong == "number":
        draft.order_number = "SHOP-NOPE"
    else:
        draft.email = "eve@example.com"
    with pytest.raises(OrderNotFound) as refused:
        service.submit(draft, STOREFRONT)
    assert str(refused.value) == str(OrderNotFound())


def test_an_ineligible_request_is_refused_with_a_sentence_per_field(ctx):
    order = storefront_order()
    with pytest.raises(NotEligible) as refused:
        service.submit(draft_for(order, ("SKU-1", 3)), STOREFRONT)
    assert refused.value.fields == {
        "items.0.quantity": "You bought 2 of “Product SKU-1”, so at most 2 can be returned."
    }
    assert db.session.scalar(select(func.count()).select_from(ReturnRequest)) == 0


def api_key_ids(make_staff, count):
    manager = db.session.get(Staff, make_staff("manager"))
    return [issue_key(f"Key {n}", Actor.staff(manager), manager)[0].id for n in range(count)]


def test_the_same_idempotency_key_returns_the_first_request(ctx, make_staff):
    one, two = api_key_ids(make_staff, 2)
    order = storefront_order()
    draft = draft_for(order, ("SKU-1", 1))
    key = Idempotency.of(one, "retry-1", draft)
    first, created = service.submit(draft, STOREFRONT, idempotency=key)
    again, created_again = service.submit(
        draft_for(order, ("SKU-1", 1)), STOREFRONT, idempotency=key
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(ReturnRequest)) == 1

    other = draft_for(order, ("SKU-1", 2))
    with pytest.raises(IdempotencyConflict, match=first.number):
        service.submit(other, STOREFRONT, idempotency=Idempotency.of(one, "retry-1", other))
    # Another key's retry is another request.
    second, created = service.submit(
        draft, STOREFRONT, idempotency=Idempotency.of(two, "retry-1", draft)
    )
    assert created and second.id != first.id


def test_approving_part_of_a_line_sets_a_ship_by_date_and_tells_the_customer(ctx):
    order = storefront_order()
    request = submitted(order, ("SKU-1", 2), ("SKU-2", 1))
    service.approve(request, AGENT, {line(request, "SKU-1").id: 1}, "One shirt is enough")
    db.session.commit()
    assert request.status == "approved" and request.decided_by == "ana@shop.example"
    assert [(x.sku, x.quantity_approved) for x in request.lines] == [("SKU-1", 1), ("SKU-2", 1)]
    assert (request.ship_by_at - request.decided_at).days == 14
    assert request.customer_note == "One shirt is enough"
    assert history(request)[-1] == ("approved", "ana@shop.example", "One shirt is enough")
    assert actions(request.id)[-1] == "return_request.approve"
    assert emails(request.id)[-1].dedupe_key == f"return:{request.id}:approved"
    # What the request holds is now what was approved: the other shirt may be asked for.
    more = submitted(order, ("SKU-1", 1))
    assert more.status == "pending"


@pytest.mark.parametrize(
    ("quantities", "message"),
    [
        ({"SKU-1": 3}, "at most 2 can be approved"),
        ({"SKU-1": 0, "SKU-2": 0}, "Approve at least one item, or reject"),
        ({"SKU-1": -1}, "a whole number, 0 or more"),
    ],
)
def test_approval_quantities_are_checked(ctx, quantities, message):
    request = submitted(storefront_order())
    by_id = {line(request, sku).id: q for sku, q in quantities.items()}
    with pytest.raises(ReturnError, match=message):
        service.approve(request, AGENT, by_id)
    assert request.status == "pending"


def test_rejecting_needs_a_reason_from_the_list_and_a_note_for_the_customer(ctx):
    request = submitted(storefront_order())
    with pytest.raises(ReturnError, match="from the list"):
        service.reject(request, AGENT, "because", "Sorry")
    with pytest.raises(ReturnError, match="note for the customer"):
        service.reject(request, AGENT, "used_or_worn", "  ")
    service.reject(request, AGENT, "used_or_worn", "The shirts were worn.")
    db.session.commit()
    assert (request.status, request.rejection_reason) == ("rejected", "used_or_worn")
    assert history(request)[-1] == ("rejected", "ana@shop.example", "The shirts were worn.")
    message = emails(request.id)[-1]
    assert message.dedupe_key == f"return:{request.id}:rejected"
    # The internal reason never reaches the customer.
    assert "worn or not in resalable" not in content(message).body_text
    assert "used_or_worn" not in content(message).body_html


def test_receiving_records_damaged_and_missing_and_never_refunds(ctx):
    order = storefront_order()
    request = submitted(order)
    service.approve(request, AGENT)
    shirts, belt = line(request, "SKU-1"), line(request, "SKU-2")
    with pytest.raises(ReturnError, match="say in a note what was missing"):
        service.receive(request, AGENT, {shirts.id: (1, 0)})
    with pytest.raises(ReturnError, match="at most the 1 received can be damaged"):
        service.receive(request, AGENT, {shirts.id: (1, 2)}, "One missing")
    with pytest.raises(ReturnError, match="at most 2 can be received"):
        service.receive(request, AGENT, {shirts.id: (3, 0)})
    service.receive(request, AGENT, {shirts.id: (1, 1)}, "Only one shirt was in the parcel.")
    db.session.commit()
    assert request.status == "received" and request.refund_amount is None
    assert (shirts.quantity_received, shirts.quantity_damaged, shirts.quantity_missing) == (1, 1, 1)
    assert (belt.quantity_received, belt.quantity_damaged) == (1, 0)
    assert order.refunded_total == 0
    assert history(request)[-1] == (
        "received",
        "ana@shop.example",
        "Only one shirt was in the parcel.",
    )


def test_completing_records_the_computed_refund_on_the_order(ctx):
    order = storefront_order()
    request = submitted(order)
    service.approve(request, AGENT)
    service.receive(request, AGENT, {line(request, "SKU-1").id: (1, 0)}, "One shirt missing")
    with pytest.raises(ReturnError, match="payment system's reference"):
        service.complete(request, AGENT, method="original_payment")
    service.complete(request, AGENT, method="original_payment", reference="re_123")
    db.session.commit()
    assert request.status == "completed"
    assert (request.refund_amount, request.refund_computed) == (3500, 3500)  # 1 shirt + belt
    assert (request.refund_method, request.refund_reference) == ("original_payment", "re_123")
    assert order.refunded_total == 3500
    assert actions(request.id)[-1] == "return_request.complete"


def test_another_amount_needs_a_note_and_cannot_pass_what_remains(ctx):
    order = storefront_order()
    request = submitted(order)
    service.approve(request, AGENT)
    service.receive(request, AGENT)
    with pytest.raises(ReturnError, match="differs from the computed"):
        service.complete(request, AGENT, method="store_credit", amount=5000)
    with pytest.raises(ReturnError, match="remains refundable"):
        service.complete(request, AGENT, method="store_credit", amount=6001, note="Goodwill")
    service.complete(request, AGENT, method="store_credit", amount=5000, note="One shirt was worn.")
    db.session.commit()
    assert (request.refund_amount, request.refund_computed) == (5000, 6000)
    assert request.refund_note == "One shirt was worn."
    assert order.refunded_total == 5000


def test_a_refund_request_completes_once_approved_and_cannot_be_received(ctx):
    order = storefront_order()
    request = submitted(order, ("SKU-2", 1), type="refund", reason="damaged")
    service.approve(request, AGENT)
    assert request.ship_by_at is None
    with pytest.raises(ReturnError, match="nothing is sent back"):
        service.receive(request, AGENT)
    service.complete(request, AGENT, method="original_payment", reference="re_9")
    assert (request.status, request.refund_amount) == ("completed", 1000)


def test_a_return_completes_only_once_received(ctx):
    request = submitted(storefront_order())
    service.approve(request, AGENT)
    with pytest.raises(AlreadyMoved, match="receive it first"):
        service.complete(request, AGENT, method="store_credit")


def test_an_exchange_completes_with_the_replacement_and_refunds_nothing(ctx):
    order = storefront_order()
    request = submitted(order, ("SKU-1", 1), type="exchange")
    service.approve(request, AGENT)
    service.receive(request, AGENT)
    a_return = submitted(order, ("SKU-2", 1))
    with pytest.raises(ReturnError, match="Only an exchange"):
        service.complete(a_return, AGENT, method="replacement")
    with pytest.raises(ReturnError, match="A replacement moves no money"):
        service.complete(request, AGENT, method="replacement", amount=500, note="Cheaper")
    service.complete(request, AGENT, method="replacement", reference="DHL 0034")
    assert (request.status, request.refund_method, request.refund_amount) == (
        "completed",
        "replacement",
        0,
    )
    assert request.order.refunded_total == 0


def test_two_refunds_on_one_order_never_pass_its_total(ctx):
    order = storefront_order((("SKU-1", 1, 1000), ("SKU-2", 1, 1000)), total=1500)
    first = submitted(order, ("SKU-1", 1), reason="damaged")
    second = submitted(order, ("SKU-2", 1), reason="damaged")
    for request in (first, second):
        service.approve(request, AGENT)
        service.receive(request, AGENT)
    # The 500 discount spread: each line cost 750.
    service.complete(first, AGENT, method="store_credit")
    service.complete(second, AGENT, method="store_credit")
    assert (first.refund_amount, second.refund_amount, order.refunded_total) == (750, 750, 1500)


def test_the_customer_cancels_only_while_pending_staff_also_once_approved(ctx):
    order = storefront_order()
    request = submitted(order, ("SKU-1", 1))
    service.cancel(request, STOREFRONT, by_customer=True)
    assert request.status == "cancelled"
    assert request.cancelled_by == "the customer (through Storefront)"
    assert emails(request.id)[-1].dedupe_key == f"return:{request.id}:cancelled"

    approved = submitted(order, ("SKU-1", 1))
    service.approve(approved, AGENT)
    with pytest.raises(AlreadyMoved, match=r"already approved by ana@shop\.example at"):
        service.cancel(approved, STOREFRONT, by_customer=True)
    service.cancel(approved, OTHER_AGENT, "The parcel never came.")
    assert approved.status == "cancelled"
    assert history(approved)[-1] == ("cancelled", "ben@shop.example", "The parcel never came.")


def test_a_move_from_the_wrong_status_says_where_the_request_is(ctx):
    request = submitted(storefront_order())
    with pytest.raises(AlreadyMoved, match="still pending; approve it before"):
        service.receive(request, AGENT)
    service.reject(request, AGENT, "other", "No.")
    with pytest.raises(
        AlreadyMoved,
        match=r"already rejected by ana@shop\.example at .*; it cannot be approved now",
    ):
        service.approve(request, OTHER_AGENT)


def test_internal_notes_stay_apart_from_the_customers_history(ctx, make_staff):
    staff = db.session.get(Staff, make_staff("agent"))
    request = submitted(storefront_order())
    with pytest.raises(ReturnError, match="cannot be empty"):
        service.add_note(request, " ", Actor.staff(staff), staff)
    note = service.add_note(request, "Customer called, wants it fast.", Actor.staff(staff), staff)
    db.session.commit()
    assert db.session.scalars(select(ReturnNote.body)).all() == ["Customer called, wants it fast."]
    assert all(e[2] != note.body for e in history(request))
    assert actions(request.id)[-1] == "return_request.note"


def test_a_manager_may_override_the_window_with_a_note_an_agent_may_not(ctx, make_staff):
    agent_id, manager_id = make_staff("agent"), make_staff("manager")
    agent, manager = db.session.get(Staff, agent_id), db.session.get(Staff, manager_id)
    order = storefront_order(days_ago=60)
    draft = draft_for(order, ("SKU-1", 1))
    with pytest.raises(NotEligible):
        service.submit(draft, Actor.staff(manager))
    with pytest.raises(ReturnError, match="Only a manager"):
        service.submit(draft, Actor.staff(agent), override=Override(agent, {"outside_window"}, "x"))
    with pytest.raises(ReturnError, match="why the rule is overridden"):
        service.submit(
            draft, Actor.staff(manager), override=Override(manager, {"outside_window"}, "")
        )
    request, _ = service.submit(
        draft,
        Actor.staff(manager),
        override=Override(manager, frozenset({"outside_window"}), "Was in hospital."),
    )
    db.session.commit()
    assert (request.overridden_rules, request.override_note, request.overridden_by) == (
        "outside_window",
        "Was in hospital.",
        "manager@example.com",
    )
    assert actions(request.id) == ["return_request.submit", "return_request.override"]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "return_request.override")
    )
    assert event.details["note"] == "Was in hospital."
    assert event.details["refused"][0].startswith(f"The return window for order {order.number}")


def test_every_move_is_announced(ctx):
    heard = []

    def listener(request, event, actor):
        heard.append((request.number, event, actor.label))

    with return_request_moved.connected_to(listener):
        request = submitted(storefront_order(), type="exchange")
        service.approve(request, AGENT)
        service.receive(request, AGENT)
        service.complete(request, AGENT, method="replacement")
    assert [event for _, event, _ in heard] == ["submitted", "approved", "received", "completed"]


def test_the_refund_cap_counts_what_was_refunded_meanwhile(ctx):
    order = storefront_order()
    request = submitted(order)
    service.approve(request, AGENT)
    service.receive(request, AGENT)
    order.refunded_total = 5500  # refunded in the shop's payment system through another request
    service.complete(request, AGENT, method="store_credit")
    assert request.refund_amount == 500 and order.refunded_total == 6000
    assert money(500, "EUR") in content(emails(request.id)[-1]).body_text


def race(*racers):
    """Run each racer in a thread of its own, all released together once ready (each calls
    start()); returns what each returned, in order."""
    barrier = threading.Barrier(len(racers))
    results = [None] * len(racers)

    def run(index, racer):
        try:
            results[index] = racer(lambda: barrier.wait(timeout=30))
        except BaseException as error:  # reported by the test, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def deciding(app, request_id, move):
    """A racer that makes `move(request)` in its own session and commits it."""

    def racer(start):
        with app.app_context():
            request = db.session.get(ReturnRequest, request_id)
            assert request.lines and request.order.items
            db.session.commit()  # hold no transaction while waiting for the others
            start()
            try:
                move(request)
                db.session.commit()
                return ("won", None)
            except ReturnError as refused:
                db.session.rollback()
                return ("lost", str(refused))
            finally:
                db.session.remove()

    return racer


def pending_request(app, **kwargs):
    with app.app_context():
        request = submitted(storefront_order(), **kwargs)
        db.session.commit()
        return request.id


@pytest.mark.parametrize("attempt", range(3))
def test_two_agents_approving_at_once_make_one_decision(app, attempt):
    request_id = pending_request(app)
    agents = [Actor("staff", n, f"agent{n}@shop.example") for n in range(2)]

    results = race(
        *[deciding(app, request_id, lambda r, a=a: service.approve(r, a)) for a in agents]
    )

    assert sorted(outcome for outcome, _ in results) == ["lost", "won"]
    with app.app_context():
        request = db.session.get(ReturnRequest, request_id)
        winner = request.decided_by
        assert request.status == "approved" and winner in {a.label for a in agents}
        [(_, message)] = [r for r in results if r[0] == "lost"]
        assert re.fullmatch(
            rf"Return request {request.number} was already approved by {re.escape(winner)} "
            r"at \d\d \w{3} \d{4} \d\d:\d\d\.",
            message,
        ), message
        assert actions(request_id).count("return_request.approve") == 1
        assert [m.dedupe_key for m in emails(request_id)].count(
            f"return:{request_id}:approved"
        ) == 1
        assert [e for e, _, _ in history(request)] == ["submitted", "approved"]


def test_an_approval_racing_a_rejection_and_the_customers_cancel_makes_one_move(app):
    request_id = pending_request(app)
    results = race(
        deciding(app, request_id, lambda r: service.approve(r, AGENT)),
        deciding(app, request_id, lambda r: service.reject(r, OTHER_AGENT, "other", "No.")),
        deciding(app, request_id, lambda r: service.cancel(r, STOREFRONT, by_customer=True)),
    )
    assert sorted(outcome for outcome, _ in results) == ["lost", "lost", "won"]
    with app.app_context():
        request = db.session.get(ReturnRequest, request_id)
        assert request.status in {"approved", "rejected", "cancelled"}
        assert len(history(request)) == 2
        assert len(emails(request_id)) == 2  # submitted, and the one move
        for outcome, message in results:
            if outcome == "lost":
                assert f"was already {service.moved_by(request)}" in message


def test_two_requests_for_the_last_units_at_once_take_them_once(app):
    with app.app_context():
        order = storefront_order()
        number, email = order.number, order.email
        db.session.commit()

    def submitting(start):
        with app.app_context():
            start()
            try:
                draft = ReturnDraft(
                    number, email, "return", "size_or_fit", None, [DraftLine("SKU-1", 2)]
                )
                request, _ = service.submit(draft, STOREFRONT)
                db.session.commit()
                return ("won", request.number)
            except NotEligible as refused:
                db.session.rollback()
                return ("lost", refused.fields)
            finally:
                db.session.remove()

    results = race(submitting, submitting, submitting)
    assert sorted(outcome for outcome, _ in results) == ["lost", "lost", "won"]
    for outcome, fields in results:
        if outcome == "lost":
            assert fields == {
                "items.0.quantity": "All 2 of “Product SKU-1” are already in another return "
                "request."
            }
