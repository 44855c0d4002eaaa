"""No input answers 5xx: every route in the URL map, signed in as a manager, gets query strings
(GET) and form fields (POST) full of values that once broke something here or elsewhere, and
random text from hypothesis. Each route is one test, so a failure names its route.

Field names come from every form class the app defines (and the list machinery's own
parameters), so a new filter is fuzzed without being listed here. The JSON API has its own
fuzzing from its OpenAPI document (tests/api/test_openapi.py).
"""

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms import Form
from wtforms.fields.core import UnboundField

from config import TestConfig
from dashboard import create_app
from tests.factories import PASSWORD, storefront_order, submitted

HOSTILE = [
    "sNaN",
    "NaN",
    "-Infinity",
    "1e400",
    "-1",
    "2147483648",
    "9223372036854775808",
    "9" * 400,
    "abc\x00def",
    "'; DROP TABLE staff;--",
    "<script>alert(1)</script>",
    "%",
    "\r\nSet-Cookie: x=1",
    "//evil.example/",
    "9999-12-31",
    "0001-01-01",
    "2026-13-45",
    "after~NaN~1",
    "before~9999-12-31T23:59:59~2147483648",
    "after~2026-01-01T00:00:00+14:00~-5",
    "last",
    "١٢٣",  # Arabic-Indic digits: int() and Decimal() read them
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓",
    "",
    " ",
    "x" * 5_000,
]

# The list machinery's own parameters, read outside any form.
EXTRA_NAMES = ["cursor", "back", "next", "ids", "page", "typed_count", "filter_query"]

# POSTs that end the manager's own session: fuzzed, but then signed in again.
SIGN_OUT = {"auth.logout", "auth.sign_out_everywhere"}

_PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def _field_names():
    import dashboard.auth.forms  # noqa: F401  (forms that no view module imports first)

    names, seen, todo = set(EXTRA_NAMES), set(), [Form]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    for cls in seen:
        if cls.__module__.startswith("dashboard."):
            names |= {n for n in dir(cls) if isinstance(getattr(cls, n, None), UnboundField)}
    return sorted(names)


def _routes():
    class RulesOnly(TestConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    routes = []
    for rule in create_app(RulesOnly).url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("api."):
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            routes.append((method, rule.rule, rule.endpoint))
    return sorted(set(routes)), _field_names()


ROUTES, FIELD_NAMES = _routes()


def _path(method, rule, ids):
    def fill(match):
        converter, args, name = match.groups()
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        if name == "name":
            # A real run would go on in a thread after the test has emptied the tables.
            return "recovery" if method == "GET" else "no-such-job"
        if name == "token":
            return "not-a-token"
        return str(ids.get(name, 1))

    return _PLACEHOLDER.sub(fill, rule)


@pytest.fixture
def seeded(app, client, login, make_staff, storefront, make_incomplete_order):
    """A manager signed in, and a cart, an order, an outbox message and another staff member
    (whose password the fuzzing may change) for the id routes."""
    from dashboard.extensions import db
    from dashboard.orders.models import Order
    from dashboard.outbox.models import OutboxMessage

    login("manager", "fuzz-manager@example.com")
    order_id = make_incomplete_order(email="fuzz@example.com")
    assert storefront.post_order(number="F-1").status_code == 201
    with app.app_context():
        placed = db.session.scalar(db.select(Order.id).where(Order.number == "F-1"))
        message = db.session.scalar(db.select(OutboxMessage.id).limit(1))
        return_request = submitted(storefront_order(delivered_days_ago=2)).id
        db.session.commit()
    return {
        "order_id": placed if placed else 1,
        "message_id": message or 1,
        "staff_id": make_staff("agent", "fuzz-agent@example.com"),
        "key_id": 1,
        "request_id": return_request,
        "cart_order_id": order_id,
    }


def _send(client, method, path, values):
    if method == "GET":
        response = client.get(path, query_string=values)
    else:
        response = client.post(path, data=values)
    response.get_data()  # a streamed export fails while it streams, not before
    response.close()
    return response


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.dictionaries(
        st.sampled_from(FIELD_NAMES),
        st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)),
        max_size=12,
    )
)
def _random_values_never_5xx(client, method, path, values):
    response = _send(client, method, path, values)
    assert response.status_code < 500, (method, path, values)


@pytest.mark.parametrize(
    ("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {r}" for m, r, _e in ROUTES]
)
def test_no_input_answers_5xx(client, seeded, method, rule, endpoint):
    ids = dict(seeded)
    if endpoint.startswith("orders."):
        ids["order_id"] = seeded["order_id"]
    elif endpoint.startswith(("incomplete_orders.", "recovery.")):
        ids["order_id"] = seeded["cart_order_id"]
    path = _path(method, rule, ids)
    started = time.monotonic()
    failures = []
    for value in HOSTILE:
        response = _send(client, method, path, {name: value for name in FIELD_NAMES})
        if response.status_code >= 500:
            failures.append(value)
        if endpoint in SIGN_OUT:
            client.post("/login", data={"email": "fuzz-manager@example.com", "password": PASSWORD})
    assert not failures, f"{method} {path} answered 5xx for {failures!r}"
    if endpoint not in SIGN_OUT:
        _random_values_never_5xx(client, method, path)
    assert time.monotonic() - started < 30
