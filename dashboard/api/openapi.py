"""The OpenAPI 3.1 description of /api/v1, built from the pydantic models it validates with."""

from functools import cache

from dashboard.api import return_schemas, schemas

COMPONENT_REF = "#/components/schemas/{model}"


def _schemas():
    components = {}
    for model in (
        schemas.CartSnapshotIn,
        schemas.SnapshotResult,
        schemas.IncompleteOrderOut,
        schemas.OrderIn,
        schemas.OrderResult,
        schemas.OrderPatch,
        *return_schemas.MODELS,
        schemas.ErrorBody,
    ):
        schema = model.model_json_schema(ref_template=COMPONENT_REF)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def _ref(name):
    return {"$ref": COMPONENT_REF.format(model=name)}


def _json(name, description):
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes):
    meanings = {
        400: "The body is not valid JSON.",
        401: "No API key, or an unknown or revoked one.",
        404: "Not found.",
        409: "Conflicts with what Reclaim holds; error.code says which.",
        413: "The body is too large.",
        415: "The body is not sent as application/json.",
        422: "Validation failed; error.fields names each problem.",
        429: "Too many requests for this key; wait Retry-After seconds.",
    }
    responses = {}
    for code in codes:
        response = _json("ErrorBody", meanings[code])
        if code == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
            }
        responses[str(code)] = response
    return responses


CART_ID = {
    "name": "cart_id",
    "in": "path",
    "required": True,
    "description": "The storefront's id for the cart: up to 64 characters, without '/' or NUL "
    "(such an id is refused with 422 on PUT).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\u0000/]*$"},
}
WRITE_ERRORS = (400, 401, 413, 415, 422, 429)
ORDER_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "The shop's order number.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[^\\u0000]*$"},
}
RMA_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "The return request's number, e.g. RMA-000123.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 20, "pattern": "^[^\\u0000]*$"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any unique value (a UUID) per request the customer makes. A retry with the same "
        "key and body returns the first answer (200) instead of making a second request; "
        "the same key with another body is 409 idempotency_key_reused."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


def _json_body(name, required=True):
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


def _described(responses, meanings):
    """`responses`, with what some statuses mean for this operation ({404: "..."})."""
    for status, meaning in meanings.items():
        responses[str(status)] = {**responses[str(status)], "description": meaning}
    return responses


def _return_paths():
    return {
        "/return-requests": {
            "post": {
                "operationId": "postReturnRequest",
                "summary": "Submit a customer's return, exchange or refund request",
                "description": (
                    "The order number and the customer's email (any case) prove ownership: "
                    "a wrong email and an unknown order are the same 404. Each line is "
                    "checked: the return window (RETURN_WINDOW_DAYS from delivery when "
                    "known, else from the order), no more than was bought (counting other "
                    "requests that were not rejected or cancelled), no final-sale SKU, a "
                    "refund without return only for damaged / wrong_item / "
                    "not_as_described, reason other with a comment. A refused line is 422 "
                    "not_eligible with error.fields naming it (items.0.quantity) and a "
                    "sentence for the customer. The customer is emailed an acknowledgement."
                ),
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": _json_body("ReturnRequestIn"),
                "responses": _described(
                    {
                        "201": _json("ReturnRequestOut", "The request was recorded, pending."),
                        "200": _json(
                            "ReturnRequestOut",
                            "A retry with the same Idempotency-Key: the request as it is now.",
                        ),
                        **_errors(404, 409, *WRITE_ERRORS),
                    },
                    {
                        404: "No order with this number and email.",
                        409: "idempotency_key_reused: the key was used with another body.",
                        422: "validation_failed, or not_eligible: error.fields says why per line.",
                    },
                ),
            },
        },
        "/return-requests/{number}": {
            "parameters": [RMA_NUMBER],
            "get": {
                "operationId": "getReturnRequest",
                "summary": "A return request: status, lines, refund and customer-visible history",
                "responses": {
                    "200": _json("ReturnRequestOut", "The return request."),
                    **_errors(401, 404, 429),
                },
            },
        },
        "/return-requests/{number}/cancel": {
            "parameters": [RMA_NUMBER],
            "post": {
                "operationId": "cancelReturnRequest",
                "summary": "The customer withdraws a pending request",
                "description": "The body is optional. Once decided, 409 not_cancellable.",
                "requestBody": _json_body("ReturnCancelIn", required=False),
                "responses": _described(
                    {
                        "200": _json("ReturnRequestOut", "Cancelled; the customer is emailed."),
                        **_errors(404, 409, *WRITE_ERRORS),
                    },
                    {409: "not_cancellable: the request is no longer pending."},
                ),
            },
        },
        "/orders/{number}/returnable": {
            "parameters": [ORDER_NUMBER],
            "get": {
                "operationId": "getReturnable",
                "summary": "Per line, how many may still be returned, or why none",
                "responses": {
                    "200": _json("ReturnableOut", "The order's lines and its return window."),
                    **_errors(401, 404, 429),
                },
            },
        },
        "/orders/{number}": {
            "parameters": [ORDER_NUMBER],
            "patch": {
                "operationId": "patchOrder",
                "summary": "Report when the order was delivered",
                "description": (
                    "The return window counts from delivery when it is known "
                    "(RETURN_WINDOW_FROM=delivery). A correction is allowed; null clears it."
                ),
                "requestBody": _json_body("OrderPatch"),
                "responses": {
                    "200": _json("OrderOut", "The order as Reclaim now holds it."),
                    **_errors(404, *WRITE_ERRORS),
                },
            },
        },
    }


@cache
def openapi_document():
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reclaim storefront API",
            "version": "1.0.0",
            "description": (
                "The storefront pushes cart snapshots and completed orders, and submits "
                "customers' return requests. Authenticate "
                "with 'Authorization: Bearer <key>' (keys are issued at /api-keys/). Money is "
                "in integer minor units (cents) with an ISO 4217 currency; times carry a time "
                'zone. Errors are {"error": {"code", "message", "fields"}}.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/incomplete-orders/{cart_id}": {
                "parameters": [CART_ID],
                "put": {
                    "operationId": "putIncompleteOrder",
                    "summary": "Create or update the incomplete order for a cart",
                    "description": (
                        "Idempotent: the same snapshot twice changes nothing. A snapshot older "
                        "than the one held is ignored (outcome 'stale'). A converted or "
                        "cancelled cart is not reopened (outcome 'ignored'). An empty item "
                        "list closes the cart. The subtotal is computed from the items."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("CartSnapshotIn")}},
                    },
                    "responses": {
                        "201": _json("SnapshotResult", "A new incomplete order was recorded."),
                        "200": _json("SnapshotResult", "Applied, or not applied: see outcome."),
                        **_errors(*WRITE_ERRORS),
                    },
                },
                "get": {
                    "operationId": "getIncompleteOrder",
                    "summary": "The cart as Reclaim holds it (to restore it from a recovery link)",
                    "responses": {
                        "200": _json("IncompleteOrderOut", "The incomplete order."),
                        **_errors(401, 404, 429),
                    },
                },
            },
            "/orders": {
                "post": {
                    "operationId": "postOrder",
                    "summary": "Report a completed order",
                    "description": (
                        "With cart_id, converts that incomplete order (its recovery emails "
                        "stop) through the same exactly-once path staff use. Reporting the same "
                        "order again returns it (200, outcome 'existing'); the same number with "
                        "other content is 409 order_number_conflict. If staff converted the "
                        "cart already, 409 cart_already_converted names their order in "
                        "error.order_number, and no second order is recorded. For refunds "
                        "to be exact, send each line's paid_total (after discounts) and the "
                        "shipping_total; delivered_at may come now or later by PATCH."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("OrderIn")}},
                    },
                    "responses": {
                        "201": _json("OrderResult", "The order was recorded."),
                        "200": _json("OrderResult", "This order was reported before."),
                        **_errors(409, *WRITE_ERRORS),
                    },
                },
            },
            **_return_paths(),
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {}},
                        }
                    },
                },
            },
        },
    }
