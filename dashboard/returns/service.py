"""Changes to return requests: submitted by the storefront (or staff for a customer),
decided, received and completed at the desk, cancelled by the customer or staff.

Every move happens once, whatever races: a conditional UPDATE (… WHERE status IN …) that
updates no row lost, and the loser is told who won and when ("already approved by … at …").
Each move writes a customer-visible event, an audit event and queues the customer's email
(in the outbox, dedupe key return:<id>:<event>; written when it goes out, see emails.py),
and sends `return_request_moved`.

Functions here flush; the caller commits (dashboard.transaction.committed).
"""

import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from dashboard.audit.service import record, record_bulk
from dashboard.extensions import db
from dashboard.formatting import money, shop_time
from dashboard.orders.models import Order
from dashboard.returns.emails import queue_return_email, queue_return_emails
from dashboard.returns.models import (
    MONEY_METHODS,
    REASONS,
    REFUND_METHODS,
    REJECTION_REASONS,
    TYPES,
    ReturnEvent,
    ReturnLine,
    ReturnNote,
    ReturnRequest,
    rma_number,
)
from dashboard.returns.refunds import refund_for_request
from dashboard.returns.rules import RULES, check_request, ship_by_for
from dashboard.signals import return_request_moved
from dashboard.timeutil import utcnow
from dashboard.transaction import DomainError

MAX_NOTE = 5000
MAX_REFERENCE = 100


class ReturnError(DomainError):
    """A change to a return request that the rules refuse; the message says why."""


class OrderNotFound(ReturnError):
    def __init__(self):
        # The same answer for an unknown order and a wrong email: do not tell which.
        super().__init__(
            "No order matches that order number and email address. Check both against the "
            "order confirmation."
        )


class NotEligible(ReturnError):
    """Lines the rules refuse; `fields` maps each request field to the customer's sentence."""

    def __init__(self, checked):
        self.refusals = checked.refusals
        self.fields = checked.fields
        count = len(self.fields)
        super().__init__(
            "This request cannot be accepted as it is: "
            + (" ".join(self.fields.values()) if count <= 3 else f"{count} problems; see fields.")
        )


class IdempotencyConflict(ReturnError):
    def __init__(self, request):
        self.request = request
        super().__init__(
            f"This Idempotency-Key was used for return request {request.number} with a "
            "different body. Use a new key for a new request."
        )


class AlreadyMoved(ReturnError):
    """Someone else moved the request first (or it is not where this move starts)."""

    def __init__(self, request, message):
        self.request = request
        super().__init__(message)


@dataclass(frozen=True)
class Idempotency:
    """A storefront retry's key, scoped to the API key that sent it, and the body's hash."""

    api_key_id: int
    key: str
    fingerprint: str

    @classmethod
    def of(cls, api_key_id, key, draft):
        fields = asdict(draft)
        fields["email"] = (draft.email or "").strip().lower()  # the same customer in any case
        body = json.dumps(fields, sort_keys=True, default=str)
        return cls(api_key_id, key, hashlib.sha256(body.encode()).hexdigest())


@dataclass(frozen=True)
class Override:
    """A manager letting a request through rules that would refuse it, and why."""

    staff: object  # Staff, a manager
    # {index of the draft's line: rule codes} (only overridable rules take effect); a set
    # of codes overrides them on every line.
    rules: object
    note: str

    def by_line(self, draft):
        if isinstance(self.rules, dict):
            return {int(line): frozenset(codes) for line, codes in self.rules.items()}
        return {line: frozenset(self.rules) for line in range(len(draft.items))}


def _clean_note(note, *, required=None):
    note = (note or "").strip()
    if required and not note:
        raise ReturnError(required)
    if len(note) > MAX_NOTE:
        raise ReturnError(f"A note can have at most {MAX_NOTE:,} characters.")
    return note or None


def _event(request, event, actor, note, now):
    # Through the relationship, so a request already read shows its whole history.
    request.events.append(
        ReturnEvent(
            event=event,
            created_at=now,
            actor_type=actor.kind,
            actor_label=actor.label,
            note=note,
        )
    )


def _announce(request, event, actor):
    queue_return_email(request, event)
    return_request_moved.send(request, event=event, actor=actor)


def find_request(number):
    """The request with this RMA number, or None."""
    number = (number or "").strip().upper()
    if not number or len(number) > 20 or "\x00" in number:
        return None
    return db.session.scalar(select(ReturnRequest).where(ReturnRequest.number == number))


def find_order(number, *, lock=False):
    if not number or len(number) > 40 or "\x00" in number:
        return None
    stmt = select(Order).where(Order.number == number)
    if lock:
        # Serialises requests about one order on PostgreSQL, so two submitted at once cannot
        # both take the last units; SQLite's writers are serialised by BEGIN IMMEDIATE.
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def submit(draft, actor, *, idempotency=None, override=None, now=None):
    """Record a customer's request (rules.ReturnDraft) about one of their orders.

    Returns (request, created). The order number and email must match (else OrderNotFound,
    the same for both); a line the rules refuse raises NotEligible with a sentence per
    field, unless `override` (a manager's) waives that rule. With `idempotency`, the same
    key and body again returns the first request (created False); the key with another
    body raises IdempotencyConflict.
    """
    now = now or utcnow()
    if draft.type not in TYPES:
        raise ReturnError(f"The type must be one of {', '.join(TYPES)}.")
    if draft.reason not in REASONS or any(
        line.reason not in (None, *REASONS) for line in draft.items
    ):
        raise ReturnError(f"A reason must be one of {', '.join(REASONS)}.")
    if not draft.items:
        raise ReturnError("Name at least one item to return.")
    email = (draft.email or "").strip().lower()
    order = find_order(draft.order_number, lock=True)
    if order is None or not order.email or order.email.lower() != email:
        raise OrderNotFound()
    if idempotency is not None:
        existing = _by_idempotency_key(idempotency)
        if existing is not None:
            return _repeat(existing, idempotency), False

    waived = {}
    if override is not None:
        if not override.staff.has_role("manager"):
            raise ReturnError("Only a manager may override an eligibility rule.")
        _clean_note(override.note, required="Say in a note why the rule is overridden.")
        waived = override.by_line(draft)
    checked = check_request(order, draft, now=now, overrides=waived)
    if checked.refusals:
        raise NotEligible(checked)

    request = ReturnRequest(
        order_id=order.id,
        order=order,
        email=email,
        type=draft.type,
        reason=draft.reason,
        comment=_clean_note(draft.comment),
        status="pending",
        currency=order.currency,
        submitted_at=now,
        submitted_by=actor.label,
        lines=[
            ReturnLine(
                order_item_id=claim.item.id,
                order_item=claim.item,
                sku=claim.item.sku,
                name=claim.item.name,
                quantity_requested=claim.quantity,
                reason=claim.reason,
                comment=_clean_note(claim.comment),
                overridden_rules=",".join(checked.overridden_for(claim.draft_index)) or None,
            )
            for claim in checked.claims
        ],
        units_requested=sum(claim.quantity for claim in checked.claims),
        value_requested=0,
        events=[],  # a new request's history: empty, without asking the database
    )
    request.value_requested = refund_for_request(request, basis="requested").items_total
    if idempotency is not None:
        request.api_key_id = idempotency.api_key_id
        request.idempotency_key = idempotency.key
        request.idempotency_fingerprint = idempotency.fingerprint
    if checked.overridden:
        request.overridden_rules = ",".join(sorted({r.rule for r in checked.overridden}))
        request.override_note = override.note.strip()
        request.overridden_by = override.staff.email
    # Written in the same flush as the request.
    _event(request, "submitted", actor, None, now)
    try:
        with db.session.begin_nested():
            db.session.add(request)
            db.session.flush()
    except IntegrityError:
        # The same key from a retry that committed first.
        existing = _by_idempotency_key(idempotency) if idempotency else None
        if existing is None:
            raise
        return _repeat(existing, idempotency), False
    request.number = rma_number(request.id)
    db.session.flush()
    record(
        actor,
        "return_request.submit",
        "return_request",
        request.id,
        number=request.number,
        order_number=order.number,
        type=request.type,
        reason=request.reason,
        lines={line.sku: line.quantity_requested for line in request.lines},
    )
    if checked.overridden:
        record(
            actor,
            "return_request.override",
            "return_request",
            request.id,
            rules=request.overridden_rules,
            lines={
                line.sku: line.overridden_rules for line in request.lines if line.overridden_rules
            },
            refused=[r.message for r in checked.overridden],
            note=request.override_note,
        )
    _announce(request, "submitted", actor)
    return request, True


def _by_idempotency_key(idempotency):
    return db.session.scalar(
        select(ReturnRequest).where(
            ReturnRequest.api_key_id == idempotency.api_key_id,
            ReturnRequest.idempotency_key == idempotency.key,
        )
    )


def _repeat(existing, idempotency):
    if existing.idempotency_fingerprint != idempotency.fingerprint:
        raise IdempotencyConflict(existing)
    return existing


# Who did each status's move, and when, for "already … by … at …".
_STAMPS = {
    "pending": ("submitted", "submitted_by", "submitted_at"),
    "approved": ("approved", "decided_by", "decided_at"),
    "rejected": ("rejected", "decided_by", "decided_at"),
    "received": ("marked received", "received_by", "received_at"),
    "completed": ("completed", "completed_by", "completed_at"),
    "cancelled": ("cancelled", "cancelled_by", "cancelled_at"),
}


def moved_by(request):
    """'approved by ana@shop.example at 12 Mar 2027 14:02', for the request as it stands."""
    done, by, at = _STAMPS[request.status]
    return f"{done} by {getattr(request, by)} at {shop_time(getattr(request, at))}"


def _move(request, to_status, from_statuses, verb, values):
    """Move the request if nobody else did first; else AlreadyMoved naming who did."""
    values = {"status": to_status, **values}
    won = db.session.execute(
        update(ReturnRequest)
        .where(ReturnRequest.id == request.id, ReturnRequest.status.in_(from_statuses))
        .values(**values)
        .returning(ReturnRequest.id)
        .execution_options(synchronize_session=False)
    ).first()
    if won:
        # What the row now holds, without reading it back or writing it twice.
        for name, value in values.items():
            set_committed_value(request, name, value)
        return
    db.session.refresh(request)
    if request.status == "pending":
        raise AlreadyMoved(
            request,
            f"Return request {request.number} is still pending; approve it before it can be "
            f"{verb}.",
        )
    if request.status == "approved" and to_status == "completed":
        raise AlreadyMoved(
            request,
            f"Return request {request.number} is approved but its parcel has not been marked "
            "received; receive it first.",
        )
    raise AlreadyMoved(
        request,
        f"Return request {request.number} was already {moved_by(request)}"
        + ("." if to_status == request.status else f"; it cannot be {verb} now."),
    )


def _line_quantities(request, quantities, name):
    """{line id: value} checked against the request's lines; ids are ints."""
    quantities = dict(quantities or {})
    ids = {line.id for line in request.lines}
    unknown = set(quantities) - ids
    if unknown:
        raise ReturnError(
            f"Return request {request.number} has no line {min(unknown)}; reload the page."
        )
    for value in quantities.values():
        if isinstance(value, tuple):
            value = value[0]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ReturnError(f"The {name} quantity must be a whole number, 0 or more.")
    return quantities


def approve(request, actor, quantities=None, note=None, *, now=None):
    """Approve a pending request.

    `quantities` is {line id: approved quantity} (0 up to what was requested); a line not
    named, and every line when it is None, is approved as requested. `note` is for the
    customer. A return or exchange is then due back by RETURN_SHIP_BY_DAYS from now.
    """
    now = now or utcnow()
    quantities = _line_quantities(request, quantities, "approved")
    approved = {line.id: quantities.get(line.id, line.quantity_requested) for line in request.lines}
    for line in request.lines:
        if approved[line.id] > line.quantity_requested:
            raise ReturnError(
                f"“{line.name}”: at most {line.quantity_requested} can be approved (that is "
                "what the customer asked to return)."
            )
    if not any(approved.values()):
        raise ReturnError("Approve at least one item, or reject the request with a reason.")
    note = _clean_note(note)
    _move(
        request,
        "approved",
        ("pending",),
        "approved",
        {
            "decided_at": now,
            "decided_by": actor.label,
            "customer_note": note,
            "ship_by_at": ship_by_for(now) if request.sends_items_back else None,
        },
    )
    for line in request.lines:
        line.quantity_approved = approved[line.id]
    _event(request, "approved", actor, note, now)
    db.session.flush()
    partly = {
        line.sku: f"{line.quantity_approved} of {line.quantity_requested}"
        for line in request.lines
        if line.quantity_approved != line.quantity_requested
    }
    record(
        actor,
        "return_request.approve",
        "return_request",
        request.id,
        number=request.number,
        note=note,
        **({"partly": partly} if partly else {}),
    )
    _announce(request, "approved", actor)
    return request


def reject(request, actor, reason, note, *, now=None):
    """Reject a pending request. `reason` (from REJECTION_REASONS) is for the shop only;
    `note` is what the customer reads, so it is required."""
    now = now or utcnow()
    if reason not in REJECTION_REASONS:
        raise ReturnError("Choose why the request is rejected from the list.")
    note = _clean_note(
        note,
        required="Write a note for the customer: it is all they read about the rejection.",
    )
    _move(
        request,
        "rejected",
        ("pending",),
        "rejected",
        {
            "decided_at": now,
            "decided_by": actor.label,
            "rejection_reason": reason,
            "customer_note": note,
        },
    )
    _event(request, "rejected", actor, note, now)
    db.session.flush()
    record(
        actor,
        "return_request.reject",
        "return_request",
        request.id,
        number=request.number,
        reason=reason,
        note=note,
    )
    _announce(request, "rejected", actor)
    return request


def receive(request, actor, quantities=None, note=None, *, now=None):
    """Record the parcel of an approved return or exchange.

    `quantities` is {line id: (received, damaged)}; a line not named, and every line when it
    is None, arrived in full and undamaged. What was approved and did not arrive is recorded
    as missing, which needs `note` (the customer reads it). Receiving never refunds.
    """
    now = now or utcnow()
    if not request.sends_items_back:
        raise ReturnError(
            f"Return request {request.number} is a refund: nothing is sent back, so there is "
            "no parcel to receive. Complete it instead."
        )
    quantities = _line_quantities(request, quantities, "received")
    counted = {}
    for line in request.lines:
        approved = line.quantity_approved or 0
        received, damaged = quantities.get(line.id, (approved, 0))
        if not isinstance(damaged, int) or isinstance(damaged, bool) or damaged < 0:
            raise ReturnError("The damaged quantity must be a whole number, 0 or more.")
        if received > approved:
            raise ReturnError(
                f"“{line.name}”: {approved} {'was' if approved == 1 else 'were'} approved, so "
                f"at most {approved} can be received. Approve more before receiving them."
            )
        if damaged > received:
            raise ReturnError(f"“{line.name}”: at most the {received} received can be damaged.")
        counted[line.id] = (received, damaged)
    missing = sum((line.quantity_approved or 0) - counted[line.id][0] for line in request.lines)
    note = _clean_note(
        note,
        required=(
            "Some approved items did not arrive: say in a note what was missing (the "
            "customer reads it)."
        )
        if missing
        else None,
    )
    _move(
        request,
        "received",
        ("approved",),
        "marked received",
        {"received_at": now, "received_by": actor.label, "receipt_note": note},
    )
    for line in request.lines:
        line.quantity_received, line.quantity_damaged = counted[line.id]
    _event(request, "received", actor, note, now)
    db.session.flush()
    record(
        actor,
        "return_request.receive",
        "return_request",
        request.id,
        number=request.number,
        received={line.sku: line.quantity_received for line in request.lines},
        damaged={
            line.sku: line.quantity_damaged for line in request.lines if line.quantity_damaged
        },
        missing=missing,
        note=note,
    )
    _announce(request, "received", actor)
    return request


def complete(request, actor, *, method, reference=None, amount=None, note=None, now=None):
    """Record the refund (or, for an exchange, the replacement shipped) and close the request.

    The amount is the refund computation's unless `amount` says otherwise, which needs a
    `note` (the customer reads it beside the computed amount). `method` is one of
    REFUND_METHODS; `reference` is the payment system's (required for a refund to the
    original payment). A return or exchange completes once received, a refund once approved.
    """
    now = now or utcnow()
    if method not in REFUND_METHODS:
        raise ReturnError("Choose how the refund was made: " + ", ".join(REFUND_METHODS) + ".")
    if method == "replacement" and request.type != "exchange":
        raise ReturnError("Only an exchange is completed by shipping a replacement.")
    reference = (reference or "").strip() or None
    if reference and len(reference) > MAX_REFERENCE:
        raise ReturnError(f"A reference can have at most {MAX_REFERENCE} characters.")
    basis = "approved" if request.type == "refund" else "received"
    computed = refund_for_request(request, basis=basis)
    if method == "replacement":
        # No money moves: the customer gets goods of the value they sent back.
        if amount not in (None, 0, computed.amount):
            raise ReturnError(
                "A replacement moves no money. To refund part of it as well, record the "
                "refund as original payment or store credit instead."
            )
        amount = 0
    amount = computed.amount if amount is None else amount
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ReturnError("The refund amount must be 0 or more.")
    note = _clean_note(
        note,
        required=(
            f"The amount differs from the computed {money(computed.amount, request.currency)}: "
            "say in a note why (the customer reads it)."
        )
        if amount != computed.amount and method != "replacement"
        else None,
    )
    if method == "original_payment" and amount and not reference:
        raise ReturnError(
            "Give the payment system's reference for the refund, so it can be found there."
        )
    if method in MONEY_METHODS and amount > computed.remaining:
        raise ReturnError(
            f"Only {money(computed.remaining, request.currency)} remains refundable on order "
            f"{request.order.number}."
        )
    _move(
        request,
        "completed",
        ("approved",) if request.type == "refund" else ("received",),
        "completed",
        {
            "completed_at": now,
            "completed_by": actor.label,
            "refund_amount": amount,
            "refund_computed": computed.amount,
            "refund_method": method,
            "refund_reference": reference,
            "refund_note": note,
        },
    )
    if method in MONEY_METHODS and amount:
        _count_refund(request.order, amount, request.currency)
    _event(request, "completed", actor, note, now)
    db.session.flush()
    record(
        actor,
        "return_request.complete",
        "return_request",
        request.id,
        number=request.number,
        amount=amount,
        computed=computed.amount,
        method=method,
        reference=reference,
        note=note,
    )
    _announce(request, "completed", actor)
    return request


def _count_refund(order, amount, currency):
    # Conditional, so two refunds on one order at once can never pass its total together.
    counted = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.refunded_total + amount <= Order.total)
        .values(refunded_total=Order.refunded_total + amount)
        .returning(Order.refunded_total)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.refresh(order)
    if counted is None:
        raise ReturnError(
            f"Only {money(order.total - order.refunded_total, currency)} remains refundable on "
            f"order {order.number}; another refund was recorded meanwhile. Reload the page."
        )


@dataclass(frozen=True)
class Difference:
    """How the refund differs from what the customer was told at approval, and why."""

    estimate: int
    abs: int
    more: bool
    reasons: tuple


def difference_for(request):
    """How a completed request's refund differs from its estimate (None: it does not)."""
    return _difference(request, request.refund_amount, request.refund_note)


def _difference(request, amount, note):
    if request.refund_method == "replacement":
        return None
    # What the customer was told at approval: the approved quantities, before this refund.
    estimate = refund_for_request(request, basis="approved").amount
    if estimate == amount:
        return None
    reasons = []
    for line in request.lines:
        if line.quantity_missing:
            reasons.append(f"{line.quantity_missing} of “{line.name}” did not arrive.")
    if note:
        reasons.append(note)
    return Difference(estimate, abs(amount - estimate), amount > estimate, tuple(reasons))


def cancel(request, actor, note=None, *, by_customer=False, now=None):
    """Cancel a request: the customer while it is pending, staff also once approved (the
    parcel never came). `note` is for the customer."""
    now = now or utcnow()
    note = _clean_note(note)
    label = f"the customer (through {actor.label})" if by_customer else actor.label
    _move(
        request,
        "cancelled",
        ("pending",) if by_customer else ("pending", "approved"),
        "cancelled",
        {"cancelled_at": now, "cancelled_by": label},
    )
    _event(request, "cancelled", actor, note, now)
    db.session.flush()
    record(
        actor,
        "return_request.cancel",
        "return_request",
        request.id,
        number=request.number,
        by_customer=by_customer,
        note=note,
    )
    _announce(request, "cancelled", actor)
    return request


def add_note(request, body, actor, staff):
    """An internal note on the request; the customer never sees it."""
    body = _clean_note(body, required="A note cannot be empty.")
    note = ReturnNote(return_request_id=request.id, staff_id=staff.id, body=body)
    db.session.add(note)
    db.session.flush()
    record(actor, "return_request.note", "return_request", request.id, note_id=note.id)
    return note


def overridable_rules():
    """(code, summary) of the rules a manager may override."""
    return [(code, rule.summary) for code, rule in RULES.items() if rule.overridable]


# --- many requests at once ------------------------------------------------------------
# One conditional UPDATE moves every selected request still where the move starts (what
# someone else moved meanwhile stays as it is), then one statement each for the lines, the
# customer-visible events, the customers' emails (queued, written when they go out: see
# emails.py) and one audit event. Nothing is read or written per request.

BULK_CHUNK = 500


def _chunks(ids):
    for start in range(0, len(ids), BULK_CHUNK):
        yield ids[start : start + BULK_CHUNK]


def _bulk_move(condition, starts_from, values, *extra_conditions):
    """Move what `condition` selects; returns the moved (id, number, email) rows."""
    return db.session.execute(
        update(ReturnRequest)
        .where(condition, ReturnRequest.status.in_(starts_from), *extra_conditions)
        .values(**values)
        .returning(ReturnRequest.id, ReturnRequest.number, ReturnRequest.email)
        .execution_options(synchronize_session=False)
    ).all()


def _bulk_events_and_emails(moved, event, actor, note, now):
    if not moved:
        return
    db.session.execute(
        ReturnEvent.__table__.insert(),
        [
            {
                "return_request_id": request_id,
                "event": event,
                "created_at": now,
                "actor_type": actor.kind,
                "actor_label": actor.label,
                "note": note,
            }
            for request_id, _, _ in moved
        ],
    )
    queue_return_emails(moved, event, now)
    if return_request_moved.receivers:
        # Only read the requests when someone listens.
        ids = [request_id for request_id, _, _ in moved]
        for chunk in _chunks(ids):
            for request in db.session.scalars(
                select(ReturnRequest)
                .where(ReturnRequest.id.in_(chunk))
                .execution_options(populate_existing=True)
            ):
                return_request_moved.send(request, event=event, actor=actor)


def bulk_approve(condition, actor, note, selection, *, now=None):
    """Approve every pending request `condition` selects, each line as requested, with one
    note for every customer. Returns how many were approved."""
    now = now or utcnow()
    note = _clean_note(note)
    moved = _bulk_move(
        condition,
        ("pending",),
        {
            "status": "approved",
            "decided_at": now,
            "decided_by": actor.label,
            "customer_note": note,
            # A refund sends nothing back, so it has no ship-by date.
            "ship_by_at": case((ReturnRequest.type == "refund", None), else_=ship_by_for(now)),
        },
    )
    ids = [request_id for request_id, _, _ in moved]
    for chunk in _chunks(ids):
        db.session.execute(
            update(ReturnLine)
            .where(ReturnLine.return_request_id.in_(chunk))
            .values(quantity_approved=ReturnLine.quantity_requested)
            .execution_options(synchronize_session=False)
        )
    record_bulk(
        actor, "return_request.bulk_approve", "return_request", ids, selection=selection, note=note
    )
    _bulk_events_and_emails(moved, "approved", actor, note, now)
    return len(ids)


def bulk_reject(condition, actor, reason, note, selection, *, now=None):
    """Reject every pending request `condition` selects, with one reason (for the shop) and
    one note (for every customer, so required). Returns how many were rejected."""
    now = now or utcnow()
    if reason not in REJECTION_REASONS:
        raise ReturnError("Choose why the requests are rejected from the list.")
    note = _clean_note(
        note, required="Write a note for the customers: it is all they read about the rejection."
    )
    moved = _bulk_move(
        condition,
        ("pending",),
        {
            "status": "rejected",
            "decided_at": now,
            "decided_by": actor.label,
            "rejection_reason": reason,
            "customer_note": note,
        },
    )
    ids = [request_id for request_id, _, _ in moved]
    record_bulk(
        actor,
        "return_request.bulk_reject",
        "return_request",
        ids,
        selection=selection,
        reason=reason,
        note=note,
    )
    _bulk_events_and_emails(moved, "rejected", actor, note, now)
    return len(ids)


def bulk_receive(condition, actor, selection, *, now=None):
    """Mark the parcel of every approved return or exchange `condition` selects received in
    full and undamaged. Refund requests send nothing back and stay as they are."""
    now = now or utcnow()
    moved = _bulk_move(
        condition,
        ("approved",),
        {"status": "received", "received_at": now, "received_by": actor.label},
        ReturnRequest.type != "refund",
    )
    ids = [request_id for request_id, _, _ in moved]
    for chunk in _chunks(ids):
        db.session.execute(
            update(ReturnLine)
            .where(ReturnLine.return_request_id.in_(chunk))
            .values(quantity_received=ReturnLine.quantity_approved, quantity_damaged=0)
            .execution_options(synchronize_session=False)
        )
    record_bulk(actor, "return_request.bulk_receive", "return_request", ids, selection=selection)
    _bulk_events_and_emails(moved, "received", actor, None, now)
    return len(ids)
