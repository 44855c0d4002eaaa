"""The OpenAPI 3.1 description of /api/v1, built from the pydantic models it validates with."""

from functools import cache

from dashboard.api import schemas

COMPONENT_REF = "#/components/schemas/{model}"


def _schemas():
    components = {}
    for model in (
        schemas.CartSnapshotIn,
        schemas.SnapshotResult,
        schemas.IncompleteOrderOut,
        schemas.OrderIn,
        schemas.OrderResult,
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
    "description": "The storefront's id for the cart.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\u0000]*$"},
}
WRITE_ERRORS = (400, 401, 413, 415, 422, 429)


@cache
def openapi_document():
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reclaim storefront API",
            "version": "1.0.0",
            "description": (
                "The storefront pushes cart snapshots and completed orders. Authenticate "
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
                        "error.order_number, and no second order is recorded."
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
