"""The OpenAPI document tells the truth: schemathesis generates requests for every operation
from it, sends them to the live app with a real key, and checks each response against it."""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.api.openapi import openapi_document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Built from the same function the live app serves at /api/v1/openapi.json (checked below),
# at collection, so schemathesis makes one test per operation. (Loading it from the `app`
# fixture with schemathesis.pytest.from_fixture fails on pytest 9.2: it reads
# Function._nodeid, which pytest no longer has.)
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",  # valid and invalid requests
                "max-examples": 150,
                "database": "none",  # no .hypothesis folder in the project
            },
        }
    ),
)


@pytest.fixture
def no_rate_limit(app, monkeypatch):
    # Hundreds of requests in seconds: this run is not what the limit is for.
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_PER_MINUTE", 1_000_000)


@schema.parametrize()
# One key and one database for all of an operation's examples, on purpose.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_keeps_to_its_openapi_document(case, app, api_key, no_rate_limit):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


def test_the_live_document_is_the_one_tested(client):
    assert client.get("/api/v1/openapi.json").json == openapi_document()


def test_the_document_describes_every_endpoint_and_error(app, client):
    document = client.get("/api/v1/openapi.json").json
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served
    assert ("PUT", "/incomplete-orders/{cart_id}") in documented
    put = document["paths"]["/incomplete-orders/{cart_id}"]["put"]
    assert set(put["responses"]) == {"200", "201", "400", "401", "413", "415", "422", "429"}
    assert "Retry-After" in put["responses"]["429"]["headers"]
    post = document["paths"]["/orders"]["post"]
    assert "409" in post["responses"] and "cart_already_converted" in post["description"]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


# Values schemathesis does not think of, that once answered 500 somewhere: raw JSON text for
# each field of each write, top level and inside a line item.
HOSTILE_JSON = [
    "1e400",
    "-1e400",
    "9223372036854775808",
    "-9223372036854775809",
    "2147483648",
    '"sNaN"',
    '"NaN"',
    '"Infinity"',
    '"9999-12-31T23:59:59Z"',
    '"0001-01-01T00:00:00Z"',
    '"a\\u0000b"',
    '"\\ud800"',
    "[" * 3000 + "]" * 3000,
    "{}",
    "null",
    "true",
]


def _bodies(body):
    import json

    for field in body:
        for value in HOSTILE_JSON:
            yield json.dumps({**body, field: "HOSTILE"}).replace('"HOSTILE"', value)
    item = body["items"][0]
    for field in item:
        for value in HOSTILE_JSON:
            lines = [{**item, field: "HOSTILE"}]
            yield json.dumps({**body, "items": lines}).replace('"HOSTILE"', value)


def test_hostile_values_in_any_field_of_a_write_never_answer_5xx(api, no_rate_limit):
    from tests.factories import cart_body, order_body

    sent = 0
    for method, path, body in (
        ("PUT", "/incomplete-orders/cart-h", cart_body()),
        ("POST", "/orders", order_body()),
    ):
        for text in _bodies(body):
            response = api.request(method, path, data=text, content_type="application/json")
            assert response.status_code < 500, (method, path, text[:200])
            sent += 1
    assert sent > 300
