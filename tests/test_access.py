"""Who may reach what: sign-in on every staff URL, roles on every action, CSRF on every POST."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from config import TestConfig
from dashboard import create_app
from dashboard.audit.models import AuditEvent
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderNote
from dashboard.orders.models import Order
from tests.helpers import csrf_token_from

# Endpoints anyone may open: sign-in, health, the API's description, and the links in
# customers' emails (proved by their signed tokens). The JSON API authenticates by key
# (below); every other endpoint needs a staff sign-in.
PUBLIC = {
    "static",
    "auth.login",
    "core.healthz",
    "api.openapi",
    "recovery.restore",
    "recovery.unsubscribe",
    "recovery.resubscribe",
}


def _is_api(endpoint):
    return endpoint.startswith("api.")


_PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def _example_path(rule):
    """The rule's path with 1 for each argument, or the first option of an any(...)."""

    def fill(match):
        converter, args, _name = match.groups()
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        return "1"

    return _PLACEHOLDER.sub(fill, rule.rule)


def _protected_requests(api):
    """(method, path) for every rule of the app that is not public: the staff pages, or
    (api=True) the key-authenticated API."""

    class RulesOnly(TestConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    requests = []
    for rule in create_app(RulesOnly).url_map.iter_rules():
        if rule.endpoint in PUBLIC or _is_api(rule.endpoint) != api:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            requests.append((method, _example_path(rule)))
    return sorted(set(requests))


STAFF_ONLY_REQUESTS = _protected_requests(api=False)
API_REQUESTS = _protected_requests(api=True)


@pytest.mark.parametrize(
    ("method", "path"), API_REQUESTS, ids=[f"{m} {p}" for m, p in API_REQUESTS]
)
def test_every_api_url_refuses_a_request_without_a_key(client, login, method, path):
    login("manager")  # a staff session is not an API key
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("method", "path"), STAFF_ONLY_REQUESTS, ids=[f"{m} {p}" for m, p in STAFF_ONLY_REQUESTS]
)
def test_every_staff_url_sends_an_anonymous_visitor_to_sign_in(client, method, path):
    page = client.open(path, method=method)
    assert page.status_code == 302
    location = urlsplit(page.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]

    fragment = client.open(path, method=method, headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert urlsplit(fragment.headers["HX-Redirect"]).path == "/login"
    assert 'name="password"' not in fragment.text


# --- roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/incomplete-orders/",
        "/incomplete-orders/{cart}",
        "/incomplete-orders/export.csv",
        "/orders/",
        "/orders/{order}",
        "/audit/",
    ],
)
def test_viewer_can_read_and_export(client, login, make_incomplete_order, app, path):
    login("viewer")
    cart = make_incomplete_order(status="converted")
    with app.app_context():
        order = Order(
            number="RC-1", source="staff", incomplete_order_id=cart, currency="EUR", total=100
        )
        db.session.add(order)
        db.session.commit()
        order_id = order.id
    response = client.get(path.format(cart=cart, order=order_id))
    assert response.status_code == 200


# Every action on an incomplete order, as (path, form data); {id} is the order's id.
ORDER_ACTIONS = [
    ("/incomplete-orders/bulk", {"action": "expire", "ids": "{id}", "confirm": "y"}),
    ("/incomplete-orders/{id}/convert", {"payment": "received"}),
    ("/incomplete-orders/{id}/expire", {}),
    ("/incomplete-orders/{id}/cancel", {}),
    ("/incomplete-orders/{id}/notes", {"body": "Customer called back."}),
]


def _post_action(client, path, data, order_id):
    return client.post(
        path.format(id=order_id), data={k: v.format(id=order_id) for k, v in data.items()}
    )


def _changes_by(app, staff_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_id == staff_id)
        )


@pytest.mark.parametrize(("path", "data"), ORDER_ACTIONS)
def test_viewer_cannot_act_on_incomplete_orders(
    app, client, login, make_incomplete_order, path, data
):
    viewer_id = login("viewer")
    order_id = make_incomplete_order()
    response = _post_action(client, path, data, order_id)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(IncompleteOrder, order_id).status == "open"
        assert db.session.scalar(select(func.count()).select_from(IncompleteOrderNote)) == 0
    assert _changes_by(app, viewer_id) == 0


@pytest.mark.parametrize("role", ["agent", "manager"])
@pytest.mark.parametrize(("path", "data"), ORDER_ACTIONS)
def test_agents_and_managers_act_on_incomplete_orders(
    app, client, login, make_incomplete_order, role, path, data
):
    staff_id = login(role)
    order_id = make_incomplete_order()
    response = _post_action(client, path, data, order_id)
    assert response.status_code == 302
    assert _changes_by(app, staff_id) >= 1


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_only_managers_manage_staff(app, client, login, role):
    login(role)
    assert client.get("/staff/").status_code == 403
    response = client.post(
        "/staff/",
        data={"email": "new@example.com", "role": "manager", "password": "long-enough-too"},
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Staff).where(Staff.email == "new@example.com")) is None


def test_manager_manages_staff(client, login):
    login("manager")
    assert client.get("/staff/").status_code == 200
    response = client.post(
        "/staff/", data={"email": "new@example.com", "role": "agent", "password": "long-enough-too"}
    )
    assert response.status_code == 302


# --- a button a role may not press is not shown ---------------------------------------


@pytest.mark.parametrize(("role", "can_act"), [("viewer", False), ("agent", True)])
def test_list_shows_selection_and_bulk_buttons_only_to_those_who_may_act(
    client, login, make_incomplete_order, role, can_act
):
    login(role)
    make_incomplete_order()
    html = client.get("/incomplete-orders/").text
    assert ('name="ids"' in html) is can_act
    assert ('name="action" value="expire"' in html) is can_act
    assert ('name="action" value="cancel"' in html) is can_act


@pytest.mark.parametrize(("role", "can_act"), [("viewer", False), ("agent", True)])
def test_detail_shows_actions_and_note_form_only_to_those_who_may_act(
    client, login, make_incomplete_order, role, can_act
):
    login(role)
    order_id = make_incomplete_order()
    html = client.get(f"/incomplete-orders/{order_id}").text
    assert (f'href="/incomplete-orders/{order_id}/convert"' in html) is can_act
    assert (f'action="/incomplete-orders/{order_id}/expire"' in html) is can_act
    # Cancel goes through its confirm step first.
    assert (f'href="/incomplete-orders/{order_id}/cancel"' in html) is can_act
    assert (f'action="/incomplete-orders/{order_id}/notes"' in html) is can_act
    assert ('name="body"' in html) is can_act


@pytest.mark.parametrize(
    ("role", "sees_staff"), [("viewer", False), ("agent", False), ("manager", True)]
)
def test_staff_link_in_the_nav_only_for_managers(client, login, role, sees_staff):
    login(role)
    assert ('href="/staff/"' in client.get("/").text) is sees_staff


# --- CSRF ----------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app, monkeypatch):
    """CSRF checks as in production, for this test only (sign in before using it)."""

    def enable():
        monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    return enable


def _status(app, order_id):
    with app.app_context():
        return db.session.get(IncompleteOrder, order_id).status


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    app, client, login, make_incomplete_order, csrf_on
):
    login("agent")
    order_id = make_incomplete_order()
    csrf_on()
    refused = client.post(f"/incomplete-orders/{order_id}/expire")
    assert refused.status_code == 400
    assert "Reload the page" in refused.text
    assert _status(app, order_id) == "open"

    token = csrf_token_from(client.get(f"/incomplete-orders/{order_id}").text)
    accepted = client.post(f"/incomplete-orders/{order_id}/expire", data={"csrf_token": token})
    assert accepted.status_code == 302
    assert _status(app, order_id) == "expired"


def test_htmx_post_without_csrf_token_gets_a_toast_not_an_error_page(
    app, client, login, make_incomplete_order, csrf_on
):
    login("agent")
    order_id = make_incomplete_order()
    csrf_on()
    response = client.post(
        "/incomplete-orders/bulk",
        data={"action": "expire", "ids": str(order_id), "confirm": "y"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "<html" not in response.text
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert "Reload the page" in toast["message"]
    assert _status(app, order_id) == "open"


def test_htmx_post_with_the_pages_header_token_is_accepted(
    app, client, login, make_incomplete_order, csrf_on
):
    login("agent")
    order_id = make_incomplete_order()
    csrf_on()
    html = client.get("/incomplete-orders/").text
    token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", html).group(1)
    response = client.post(
        "/incomplete-orders/bulk",
        data={"action": "expire", "ids": str(order_id), "confirm": "y"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert _status(app, order_id) == "expired"
