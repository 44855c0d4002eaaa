"""The storefront's return requests, on the API blueprint: submit (with Idempotency-Key),
read, cancel; and what they need from orders: what is returnable, when it was delivered."""

import re

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard.api import return_schemas as out
from dashboard.api import schemas
from dashboard.api.errors import ApiError
from dashboard.api.views import _json, _json_body, _order_out, bp, commit
from dashboard.api_keys import service as keys
from dashboard.extensions import db
from dashboard.orders.models import Order
from dashboard.orders.service import DeliveryRefused, record_delivery
from dashboard.returns import service
from dashboard.returns.models import ReturnLine, ReturnRequest
from dashboard.returns.refunds import refund_for_request
from dashboard.returns.rules import DraftLine, ReturnDraft, decision_due_at, returnability
from dashboard.timeutil import as_utc

# Printable ASCII, as a header can carry it; a UUID fits easily.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def _idempotency(draft):
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            422,
            "The Idempotency-Key header must be 1 to 200 printable ASCII characters.",
            fields={"Idempotency-Key": "1 to 200 printable ASCII characters, e.g. a UUID"},
        )
    return service.Idempotency.of(g.api_key.id, key, draft)


def _request_out(rma):
    refund = refund_for_request(rma)
    return out.ReturnRequestOut(
        number=rma.number,
        order_number=rma.order.number,
        status=rma.status,
        type=rma.type,
        reason=rma.reason,
        comment=rma.comment,
        submitted_at=as_utc(rma.submitted_at),
        decision_due_at=as_utc(decision_due_at(rma)) if rma.status == "pending" else None,
        ship_by=as_utc(rma.ship_by_at) if rma.status == "approved" else None,
        customer_note=rma.customer_note,
        lines=[
            out.ReturnLineOut(
                sku=line.sku,
                name=line.name,
                reason=line.reason,
                comment=line.comment,
                quantity_requested=line.quantity_requested,
                quantity_approved=line.quantity_approved,
                quantity_received=line.quantity_received,
                quantity_damaged=line.quantity_damaged,
            )
            for line in rma.lines
        ],
        refund_estimate=out.RefundEstimateOut(
            currency=refund.currency,
            basis=refund.basis,
            lines=[
                out.RefundLineOut(
                    sku=line.sku, name=line.name, quantity=line.quantity, amount=line.amount
                )
                for line in refund.lines
            ],
            items_total=refund.items_total,
            restocking_fee=refund.restocking_fee,
            return_shipping_fee=refund.return_shipping_fee,
            amount=refund.amount,
            capped=refund.capped,
            estimate=refund.estimate,
            explanation=list(refund.explanations),
        ),
        refund=(
            out.RefundOut(
                amount=rma.refund_amount,
                computed=rma.refund_computed,
                currency=rma.currency,
                method=rma.refund_method,
                reference=rma.refund_reference,
                note=rma.refund_note,
                completed_at=as_utc(rma.completed_at),
            )
            if rma.status == "completed"
            else None
        ),
        history=[
            out.ReturnEventOut(
                event=event.event,
                at=as_utc(event.created_at),
                by="customer" if event.by_customer else "shop",
                note=event.note,
            )
            for event in rma.events
        ],
    )


def _find_request(number):
    rma = None
    if len(number) <= 20 and "\x00" not in number:
        rma = db.session.scalar(
            select(ReturnRequest)
            .where(ReturnRequest.number == number.upper())
            .options(
                selectinload(ReturnRequest.lines).selectinload(ReturnLine.order_item),
                selectinload(ReturnRequest.events),
                selectinload(ReturnRequest.order).selectinload(Order.items),
            )
        )
    if rma is None:
        raise ApiError(404, f"No return request {number!r}.")
    return rma


def _find_order(number):
    order = service.find_order(number)
    if order is None:
        raise ApiError(404, f"No order {number!r}.")
    return order


@bp.post("/return-requests")
def post_return_request():
    body = _json_body(out.ReturnRequestIn)
    draft = ReturnDraft(
        order_number=body.order_number,
        email=body.email,
        type=body.type,
        reason=body.reason,
        comment=body.comment,
        items=[DraftLine(i.sku, i.quantity, i.reason, i.comment) for i in body.items],
    )
    try:
        rma, created = service.submit(
            draft, keys.actor_for(g.api_key), idempotency=_idempotency(draft)
        )
    except service.OrderNotFound as error:
        raise ApiError(404, str(error)) from None
    except service.NotEligible as error:
        raise ApiError(
            422,
            "Some items cannot be returned as asked; fields says why for each.",
            code="not_eligible",
            fields=error.fields,
        ) from None
    except service.IdempotencyConflict as error:
        raise ApiError(409, str(error), code="idempotency_key_reused") from None
    except service.ReturnError as error:
        raise ApiError(422, str(error)) from None
    result = _request_out(rma)
    commit()
    return _json(result, 201 if created else 200)


@bp.get("/return-requests/<number>")
def get_return_request(number):
    return _json(_request_out(_find_request(number)))


@bp.post("/return-requests/<number>/cancel")
def cancel_return_request(number):
    # The body is optional: an empty POST cancels.
    note = None
    if request.content_length or request.is_json:
        note = _json_body(out.ReturnCancelIn).note
    rma = _find_request(number)
    try:
        service.cancel(rma, keys.actor_for(g.api_key), note, by_customer=True)
    except service.AlreadyMoved:
        raise ApiError(
            409,
            f"Return request {rma.number} is {rma.status}; only a pending request can be "
            "cancelled by the customer. Ask the shop.",
            code="not_cancellable",
        ) from None
    result = _request_out(rma)
    commit()
    return _json(result)


@bp.get("/orders/<number>/returnable")
def get_returnable(number):
    order = _find_order(number)
    result = returnability(order)
    window = result.window
    return _json(
        out.ReturnableOut(
            order_number=order.number,
            window=out.ReturnWindowOut(
                counts_from=window.counts_from,
                started_at=as_utc(window.started_at),
                ends_at=as_utc(window.ends_at),
                open=result.window_open,
                sentence=(
                    window.open_sentence()
                    if result.window_open
                    else window.closed_sentence(order.number)
                ),
            ),
            lines=[
                out.ReturnableLineOut(
                    sku=line.item.sku,
                    name=line.item.name,
                    bought=line.bought,
                    in_requests=line.held,
                    returnable=line.returnable,
                    final_sale=line.final_sale,
                    reason=line.reason,
                )
                for line in result.lines
            ],
        )
    )


@bp.patch("/orders/<number>")
def patch_order(number):
    body = _json_body(schemas.OrderPatch)
    order = _find_order(number)
    try:
        record_delivery(order, body.delivered_at_utc(), keys.actor_for(g.api_key))
    except DeliveryRefused as error:
        raise ApiError(422, str(error), fields={"delivered_at": str(error)}) from None
    result = _order_out(order)
    commit()
    return _json(result)
