"""The storefront's JSON API, /api/v1/. Authenticated by API key only, so exempt from CSRF."""

import logging

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from dashboard.api import PATH_PREFIX, schemas
from dashboard.api.errors import ApiError, error_response, from_validation_error
from dashboard.api.openapi import openapi_document
from dashboard.api_keys import service as keys
from dashboard.extensions import csrf, db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.service import CartSnapshot, IncompleteOrderError, apply_snapshot
from dashboard.line_items import ItemSnapshot
from dashboard.orders.service import (
    AlreadyConverted,
    ConversionRefused,
    OrderLine,
    OrderNumberConflict,
    StorefrontOrder,
    record_storefront_order,
)
from dashboard.timeutil import as_utc

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix=f"{PATH_PREFIX}v1")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}
# Work that the next request of its kind supersedes: its commit need not wait for the disk.
NOT_DURABLE_ENDPOINTS = {"api.put_incomplete_order"}


@bp.before_request
def authenticate_key():
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or "\x00" in token:
        raise ApiError(
            401,
            "Send the API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = keys.authenticate(token.strip(), durable=request.endpoint not in NOT_DURABLE_ENDPOINTS)
    if key is None:
        db.session.rollback()
        raise ApiError(
            401,
            "This API key is unknown or revoked. Ask a manager for a key.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    g.api_key = key
    g.uncounted_request = key  # counted by commit(), or when the request ends
    wait = key.wait_seconds(current_app.config["API_RATE_LIMIT_PER_MINUTE"])
    if wait:
        raise ApiError(
            429,
            f"Too many requests for this key; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    return None


def commit():
    """Commit the request's work with its key's request count: one transaction."""
    key = g.pop("uncounted_request", None)
    if key is not None:
        keys.count_request(key)
    try:
        db.session.commit()
    except BaseException:
        if key is not None:
            g.uncounted_request = key  # counted alone after the error handler's rollback
        raise


@bp.after_request
def count_what_did_not_commit(response):
    """A request that read, or failed (its work undone by the error handlers), is counted
    here, alone: refused requests count too."""
    if "uncounted_request" in g:
        try:
            commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("The request count of API key %s could not be kept", g.api_key.id)
    return response


@bp.errorhandler(ApiError)
def api_error(error):
    db.session.rollback()
    return error_response(
        error.status, error.message, error.code, error.fields, error.headers, **error.extra
    )


@bp.errorhandler(HTTPException)
def http_error(error):
    db.session.rollback()
    messages = {
        413: f"The body is larger than {current_app.config['API_MAX_BODY_BYTES']:,} bytes.",
        404: "There is nothing at this address.",
        405: "This method is not allowed here.",
    }
    return error_response(error.code, messages.get(error.code, error.description))


def _json_body(model):
    if not request.is_json:
        raise ApiError(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nested thousands deep: json gives up before any limit of ours
        payload = None
    if payload is None:
        raise ApiError(400, "The body is not valid JSON.", code="invalid_json")
    if not isinstance(payload, dict):
        raise ApiError(
            422, "The body must be a JSON object.", fields={"body": "must be a JSON object"}
        )
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise from_validation_error(error) from None


def _items(items):
    return [ItemSnapshot(i.sku, i.name, i.quantity, i.unit_price) for i in items]


def _cart_out(order, items=None):
    """The cart as the API shows it; `items` when the caller has them already (the order's
    are read otherwise)."""
    return schemas.IncompleteOrderOut(
        cart_id=order.cart_id,
        status=order.status,
        stage=order.stage,
        customer_id=order.customer_id,
        guest_session=order.guest_session,
        email=order.email,
        phone=order.phone,
        name=order.name,
        currency=order.currency,
        subtotal=order.subtotal,
        item_count=order.item_count,
        items=[
            schemas.LineItem(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
            for i in (order.items if items is None else items)
        ],
        created_at=as_utc(order.created_at),
        last_activity_at=as_utc(order.last_activity_at),
        order_number=(
            order.converted_order.number
            if order.status == "converted" and order.converted_order
            else None
        ),
    )


def _order_out(order):
    return schemas.OrderOut(
        number=order.number,
        source=order.source,
        cart_id=order.incomplete_order.cart_id if order.incomplete_order else None,
        placed_at=as_utc(order.placed_at),
        currency=order.currency,
        total=order.total,
        customer_id=order.customer_id,
        email=order.email,
        phone=order.phone,
        name=order.name,
        items=[
            schemas.OrderLineItem(
                sku=i.sku,
                name=i.name,
                quantity=i.quantity,
                unit_price=i.unit_price,
                paid_total=i.paid_total,
            )
            for i in order.items
        ],
        shipping_total=order.shipping_total,
        delivered_at=as_utc(order.delivered_at),
        refunded_total=order.refunded_total or 0,
    )


def _json(model, status=200):
    response = current_app.response_class(model.model_dump_json(), mimetype="application/json")
    response.status_code = status
    return response


SNAPSHOT_MESSAGES = {
    "created": "Cart recorded.",
    "updated": "Cart updated.",
    "unchanged": "The same snapshot again: nothing changed.",
    "stale": "An older snapshot than the one held: not applied.",
    "closed": "The cart was emptied, so it is closed.",
    "final": "The cart is {status}; a snapshot does not reopen it.",
    "ignored": "An empty cart Reclaim has never seen: nothing to record.",
}


def _possible_cart_id(cart_id):
    # The database cannot hold NUL in text, so no cart has such an id; a "/" would not fit in
    # the storefront's own URLs to this one.
    return len(cart_id) <= 64 and "\x00" not in cart_id and "/" not in cart_id


def _refuse_impossible_cart_id(cart_id):
    if not _possible_cart_id(cart_id):
        raise ApiError(
            422,
            "A cart id can have at most 64 characters, and no '/' or NUL characters.",
            fields={"cart_id": "at most 64 characters, without '/' or NUL (\\u0000)"},
        )


class AnyTextConverter(BaseConverter):
    """Any text, "/" and newlines included (werkzeug's path converter stops at a newline), so
    that an id no cart can have reaches the check above (422) instead of a 404."""

    regex = r"[\s\S]+"
    part_isolating = False


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters["any_text"] = AnyTextConverter


@bp.put("/incomplete-orders/<any_text:cart_id>")
def put_incomplete_order(cart_id):
    _refuse_impossible_cart_id(cart_id)
    body = _json_body(schemas.CartSnapshotIn)
    snapshot = CartSnapshot(
        cart_id=cart_id,
        currency=body.currency,
        snapshot_at=body.snapshot_at_utc(),
        items=_items(body.items),
        stage=body.stage,
        customer_id=body.customer_id,
        guest_session=body.guest_session,
        email=body.email,
        phone=body.phone,
        name=body.name,
    )
    try:
        order, outcome = apply_snapshot(snapshot, keys.actor_for(g.api_key))
    except IncompleteOrderError as error:
        raise ApiError(422, str(error)) from None
    message = SNAPSHOT_MESSAGES[outcome].format(status=order.status if order else "")
    # Built before the commit, from what the session holds: no reloading afterwards. After
    # these outcomes the cart holds the snapshot's items, so they are not read back.
    items = snapshot.items if outcome in ("created", "updated", "unchanged") else None
    result = schemas.SnapshotResult(
        outcome="ignored" if outcome in ("final", "ignored") else outcome,
        message=message,
        incomplete_order=_cart_out(order, items) if order else None,
    )
    commit()
    return _json(result, 201 if outcome == "created" else 200)


@bp.get("/incomplete-orders/<any_text:cart_id>")
def get_incomplete_order(cart_id):
    order = None
    if _possible_cart_id(cart_id):
        order = db.session.scalar(
            select(IncompleteOrder)
            .where(IncompleteOrder.cart_id == cart_id)
            .options(selectinload(IncompleteOrder.items))
        )
    if order is None:
        raise ApiError(404, f"No incomplete order for cart {cart_id!r}.")
    return _json(_cart_out(order))


@bp.post("/orders")
def post_order():
    body = _json_body(schemas.OrderIn)
    report = StorefrontOrder(
        number=body.number,
        placed_at=body.placed_at_utc(),
        currency=body.currency,
        total=body.total,
        items=[
            OrderLine(i.sku, i.name, i.quantity, i.unit_price, i.paid_total) for i in body.items
        ],
        cart_id=body.cart_id,
        customer_id=body.customer_id,
        email=body.email,
        phone=body.phone,
        name=body.name,
        shipping_total=body.shipping_total,
        delivered_at=body.delivered_at_utc(),
    )
    try:
        order, outcome, converted = record_storefront_order(report, keys.actor_for(g.api_key))
    except AlreadyConverted as error:
        by = "staff" if error.order.source == "staff" else "an earlier report"
        raise ApiError(
            409,
            f"Cart {body.cart_id} was already converted into order {error.order.number} "
            f"(by {by}); no second order was recorded.",
            code="cart_already_converted",
            order_number=error.order.number,
        ) from None
    except OrderNumberConflict as error:
        raise ApiError(
            409, str(error), code="order_number_conflict", order_number=error.order.number
        ) from None
    except ConversionRefused as error:
        raise ApiError(409, str(error), code="cart_not_convertible") from None
    result = schemas.OrderResult(outcome=outcome, converted_cart=converted, order=_order_out(order))
    commit()
    return _json(result, 201 if outcome == "created" else 200)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


# Return requests, and what they need from orders, are routes on this same blueprint.
from dashboard.api import returns  # noqa: E402, F401
