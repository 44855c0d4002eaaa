"""How the API refuses: by key only (401), body size (413), content type (415), JSON (400),
validation (422), rate (429, counted in the database). A refused request writes nothing."""

import time

import pytest
from sqlalchemy import func, select

from config import TestConfig
from dashboard import create_app
from dashboard.api_keys.models import ApiKey, ApiRequestCount
from dashboard.api_keys.service import issue_key, revoke_key
from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from tests.factories import cart_body, items, order_body
from tests.helpers import Api, row_count


def _changes(app):
    """Audit events written through the API."""
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_type == "api_key")
        )


def _assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert error["message"]
    return error


# --- 401: the key, and only the key --------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Token rk_abc",
    ],
    ids=["missing", "empty", "no-token", "blank-token", "basic", "other-scheme"],
)
def test_a_missing_or_malformed_authorization_is_401(app, client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.put("/api/v1/incomplete-orders/cart-1", json=cart_body(), headers=headers)
    error = _assert_error(response, 401, "unauthorized")
    assert "Authorization: Bearer <key>" in error["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert row_count(app, IncompleteOrder) == 0


@pytest.mark.parametrize(
    "token",
    [
        "rk_00000000_unknownunknownunknown",
        "not-even-our-format",
        "rk_",
    ],
)
def test_an_unknown_key_is_401(app, client, api_key, token):
    response = Api(client, token).put_cart("cart-1")
    error = _assert_error(response, 401, "unauthorized")
    assert "unknown or revoked" in error["message"]
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert row_count(app, IncompleteOrder) == 0


def test_a_key_with_the_right_prefix_but_a_wrong_secret_is_401(app, client, api_key):
    forged = api_key[:-4] + ("AAAA" if not api_key.endswith("AAAA") else "BBBB")
    assert forged.split("_")[1] == api_key.split("_")[1]
    response = Api(client, forged).put_cart("cart-1")
    _assert_error(response, 401, "unauthorized")
    with app.app_context():
        assert db.session.scalar(select(ApiKey.last_used_at)) is None
    assert row_count(app, IncompleteOrder) == 0


def test_a_revoked_key_is_401_from_then_on(app, client, api):
    assert api.put_cart("cart-1").status_code == 201
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        manager = db.session.scalar(select(Staff))
        revoke_key(key, Actor.staff(manager), manager)
        db.session.commit()

    response = api.put_cart("cart-2")

    _assert_error(response, 401, "unauthorized")
    assert api.get("/incomplete-orders/cart-1").status_code == 401
    assert row_count(app, IncompleteOrder) == 1


def test_a_staff_session_is_not_an_api_key(app, client, login):
    login("manager")
    response = client.put("/api/v1/incomplete-orders/cart-1", json=cart_body())
    _assert_error(response, 401, "unauthorized")
    assert client.get("/api/v1/incomplete-orders/cart-1").status_code == 401
    assert row_count(app, IncompleteOrder) == 0


def test_the_api_needs_no_csrf_token_because_it_authenticates_by_key(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert api.put_cart("cart-1").status_code == 201
    assert api.post_order(cart_id="cart-1").status_code == 201


def test_a_used_key_is_marked_with_when_it_was_last_used(app, api):
    with app.app_context():
        assert db.session.scalar(select(ApiKey.last_used_at)) is None
    api.get("/incomplete-orders/cart-1")
    with app.app_context():
        assert db.session.scalar(select(ApiKey.last_used_at)) is not None


def test_the_openapi_document_needs_no_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.")


# --- 400, 413, 415, 422: the body ----------------------------------------------------


def test_a_body_over_the_size_limit_is_413(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "API_MAX_BODY_BYTES", 2000)
    many = items(*[(f"SKU-{n}", 1, 100) for n in range(40)])

    response = api.put_cart("cart-1", items=many)

    error = _assert_error(response, 413, "payload_too_large")
    assert "2,000 bytes" in error["message"]
    assert row_count(app, IncompleteOrder) == 0
    assert _changes(app) == 0
    # The same body fits under the default limit.
    monkeypatch.setitem(app.config, "API_MAX_BODY_BYTES", TestConfig.API_MAX_BODY_BYTES)
    assert api.put_cart("cart-1", items=many).status_code == 201


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", '{"items": []}'),
        ("application/x-www-form-urlencoded", "items=1"),
        (None, '{"items": []}'),
    ],
)
def test_a_body_that_is_not_json_is_415(app, api, content_type, data):
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.put("/incomplete-orders/cart-1", data=data, headers=headers)
    error = _assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]
    assert row_count(app, IncompleteOrder) == 0


@pytest.mark.parametrize("data", ['{"items": [', "", "null"])
def test_invalid_json_is_400(app, api, data):
    response = api.post("/orders", data=data, content_type="application/json")
    _assert_error(response, 400, "invalid_json")
    assert row_count(app, Order) == 0


@pytest.mark.parametrize("payload", [[], ["a"], "text", 42])
def test_a_body_that_is_not_an_object_is_422(app, api, payload):
    response = api.put("/incomplete-orders/cart-1", json=payload)
    error = _assert_error(response, 422, "validation_failed")
    assert error["fields"] == {"body": "must be a JSON object"}


def test_validation_errors_name_each_field_by_its_path(app, api):
    body = cart_body(
        currency="eur",
        items=[
            {"sku": "A", "name": "Shirt", "quantity": 0, "unit_price": 100},
            {"sku": "", "name": "Belt", "quantity": 1, "unit_price": "ten"},
        ],
    )
    response = api.put("/incomplete-orders/cart-1", json=body)

    error = _assert_error(response, 422, "validation_failed")
    assert error["message"] == "Some fields are missing or invalid; see fields."
    assert set(error["fields"]) == {
        "currency",
        "items.0.quantity",
        "items.1.sku",
        "items.1.unit_price",
    }
    assert error["fields"]["items.0.quantity"] == "Input should be greater than or equal to 1"
    assert row_count(app, IncompleteOrder) == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/incomplete-orders/cart-1", cart_body(name="Ada\x00"), "name"),
        ("/incomplete-orders/cart-1", cart_body(items=items(("SKU\x00", 1, 1))), "items.0.sku"),
        ("/orders", order_body(number="SHOP\x001"), "number"),
    ],
)
def test_text_with_nul_characters_is_refused_not_a_server_error(app, api, path, body, field):
    """PostgreSQL cannot store NUL in text; the API says so instead of failing."""
    method = "PUT" if path.startswith("/incomplete") else "POST"
    response = api.request(method, path, json=body)
    error = _assert_error(response, 422, "validation_failed")
    assert error["fields"][field] == "must not contain NUL characters (\\u0000)"
    assert row_count(app, IncompleteOrder) == row_count(app, Order) == 0


def test_a_key_with_a_nul_character_is_401(app, client, api_key):
    response = Api(client, api_key[:6] + "\x00" + api_key[6:]).get("/incomplete-orders/x")
    _assert_error(response, 401, "unauthorized")


def test_unknown_api_addresses_and_methods_answer_in_json(api):
    _assert_error(api.get("/no-such-thing"), 404, "not_found")
    _assert_error(api.request("DELETE", "/incomplete-orders/cart-1"), 405, "method_not_allowed")


# --- nothing half-written ------------------------------------------------------------


def test_a_rejected_update_leaves_the_cart_as_it_was(app, api):
    api.put_cart("cart-1", items=items(("KEEP", 1, 500)))
    changes_before = _changes(app)

    response = api.put_cart(
        "cart-1", snapshot_at=cart_body()["snapshot_at"], items=items(("NEW", 1, 5)) + [{}]
    )

    assert response.status_code == 422
    with app.app_context():
        cart = db.session.scalar(select(IncompleteOrder))
        assert [(i.sku, i.unit_price) for i in cart.items] == [("KEEP", 500)]
    assert _changes(app) == changes_before


def test_a_refused_conversion_rolls_back_the_cart_and_records_nothing(
    app, api, make_incomplete_order
):
    """The storefront's claim on the cart is undone when its order cannot be saved."""
    api.put_cart("cart-1")
    api.post_order(number="SHOP-1", cart_id="cart-1")
    changes_before = _changes(app)

    response = api.post_order(number="SHOP-2", cart_id="cart-1")

    _assert_error(response, 409, "cart_already_converted")
    assert response.json["error"]["order_number"] == "SHOP-1"
    assert "into order SHOP-1 (by an earlier report)" in response.json["error"]["message"]
    with app.app_context():
        assert db.session.scalars(select(Order.number)).all() == ["SHOP-1"]
    assert _changes(app) == changes_before


# --- 429: per key, counted in the database -------------------------------------------


def _at_the_start_of_a_minute():
    """Counts are per clock minute: don't let a test straddle two."""
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60 - into_minute + 0.1)


@pytest.fixture
def limit_of_3(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_PER_MINUTE", 3)
    _at_the_start_of_a_minute()


def test_a_key_that_sends_too_much_too_fast_gets_429_with_retry_after(app, api, limit_of_3):
    for n in range(3):
        assert api.put_cart(f"cart-{n}").status_code == 201

    response = api.put_cart("cart-3")

    error = _assert_error(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 61
    assert f"{retry_after} seconds" in error["message"]
    assert row_count(app, IncompleteOrder) == 3  # the refused snapshot wrote nothing
    assert _changes(app) == 3
    assert api.get("/incomplete-orders/cart-0").status_code == 429


def test_refused_requests_count_too(app, api, limit_of_3):
    for _ in range(3):
        assert api.put("/incomplete-orders/cart-1", data="x").status_code == 415
    assert api.put_cart("cart-1").status_code == 429


def test_the_limit_is_per_key(app, api, limit_of_3):
    for n in range(4):
        api.put_cart(f"cart-{n}")
    with app.app_context():
        manager = db.session.scalar(select(Staff))
        _key, other = issue_key("Second shop", Actor.staff(manager), manager)
        db.session.commit()
    assert Api(app.test_client(), other).put_cart("cart-9").status_code == 201


def test_the_count_is_in_the_database_so_another_process_sees_it(app, api, limit_of_3):
    for n in range(3):
        assert api.put_cart(f"cart-{n}").status_code == 201

    class OtherProcess(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        API_RATE_LIMIT_PER_MINUTE = 3

    other = create_app(OtherProcess)
    try:
        response = Api(other.test_client(), api.key).put_cart("cart-3")
        _assert_error(response, 429, "rate_limited")
        assert "Retry-After" in response.headers
    finally:
        with other.app_context():
            db.engine.dispose()
    with app.app_context():
        assert db.session.scalar(select(func.sum(ApiRequestCount.count))) == 4
    assert row_count(app, IncompleteOrder) == 3


def test_a_request_that_fails_inside_still_counts_and_writes_nothing(
    app, api, limit_of_3, monkeypatch
):
    from dashboard.api import views

    def broken(*_args, **_kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(views, "apply_snapshot", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    response = api.put_cart("cart-1")
    assert response.status_code == 500
    assert response.json["error"]["code"]
    with app.app_context():
        assert db.session.scalar(select(func.sum(ApiRequestCount.count))) == 1
        assert db.session.scalar(select(ApiKey.last_used_at)) is not None
    assert row_count(app, IncompleteOrder) == 0
    assert _changes(app) == 0


def test_a_request_is_counted_once_with_its_work(app, api, limit_of_3):
    assert api.put_cart("cart-1").status_code == 201
    assert api.get("/incomplete-orders/cart-1").status_code == 200
    assert api.get("/incomplete-orders/cart-404").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.sum(ApiRequestCount.count))) == 3
    _assert_error(api.put_cart("cart-2"), 429, "rate_limited")
    with app.app_context():
        assert db.session.scalar(select(func.sum(ApiRequestCount.count))) == 4


# --- no cookie session -----------------------------------------------------------------


def test_an_api_answer_never_sets_a_cookie_even_for_a_signed_in_browser(client, login, api):
    """A browser signed in as staff that also calls the API (a shop engineer trying it)
    gets no Set-Cookie from it: the API's answers never extend or replace a staff session."""
    login("manager")
    assert client.get("/incomplete-orders/").headers.get("Set-Cookie")  # refreshed each page
    response = api.put_cart("cart-with-cookie")
    assert response.status_code == 201, response.text
    assert "Set-Cookie" not in response.headers
    assert "Set-Cookie" not in api.get("/incomplete-orders/cart-with-cookie").headers
    assert "Set-Cookie" not in api.get("/incomplete-orders/no-such-cart").headers  # a 404
