"""/api-keys/: managers create keys (the secret shown once, only its hash kept), see who
made them and when they were last used, and revoke them. Every change is audited."""

import hashlib
import re

import pytest
from sqlalchemy import func, select

from dashboard.api_keys.models import ApiKey
from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from tests.helpers import Api

KEY_PATTERN = re.compile(r'id="new-key" readonly value="(rk_[0-9a-f]{8}_[A-Za-z0-9_-]{20,})"')


@pytest.fixture
def manager_id(login):
    return login("manager")


def _create(client, name="Storefront production"):
    """Create a key as a manager does: the form posts, the browser follows the redirect."""
    return client.post("/api-keys/", data={"name": name}, follow_redirects=True)


def _plaintext(response):
    match = KEY_PATTERN.search(response.text)
    assert match, "the new key is not on the page"
    return match.group(1)


def _keys(app):
    with app.app_context():
        keys = db.session.scalars(select(ApiKey)).all()
        db.session.expunge_all()
        return keys


def _events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_manager_creates_a_key_and_sees_it_once(app, client, manager_id):
    response = _create(client)

    # Post, redirect, show: a reload of the page shows no key and creates no other.
    assert [r.status_code for r in response.history] == [303]
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    plaintext = _plaintext(response)
    assert "shown only this once" in response.text
    [key] = _keys(app)
    assert key.name == "Storefront production"
    assert plaintext.startswith(f"rk_{key.prefix}_")

    listing = client.get("/api-keys/")
    assert listing.headers["Cache-Control"] == "no-store"
    assert plaintext not in listing.text
    assert f"rk_{key.prefix}_…" in listing.text
    assert len(_keys(app)) == 1
    assert 'data-copy="#new-key"' in response.text and "onclick" not in response.text


def test_revoking_a_key_asks_first_and_says_what_it_does(app, client, manager_id):
    _create(client)
    [key] = _keys(app)
    page = client.get(f"/api-keys/{key.id}/revoke")
    assert page.status_code == 200
    assert "Revoke the API key “Storefront production”?" in page.text
    assert f'action="/api-keys/{key.id}/revoke"' in page.text
    assert "Keep the key" in page.text
    [key] = _keys(app)
    assert key.is_active  # asking changed nothing


def test_only_a_sha256_hash_of_the_key_is_stored(app, client, manager_id):
    plaintext = _plaintext(_create(client))
    secret = plaintext.split("_", 2)[2]

    [key] = _keys(app)
    assert key.secret_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    with app.app_context():
        row = db.session.execute(select(ApiKey.__table__)).one()
    assert not any(isinstance(value, str) and secret in value for value in row)


def test_the_list_shows_name_prefix_creator_and_last_use(app, client, manager_id):
    plaintext = _plaintext(_create(client, "Storefront staging"))
    [key] = _keys(app)

    html = client.get("/api-keys/").text
    assert "Storefront staging" in html
    assert f"rk_{key.prefix}_…" in html
    assert "manager@example.com" in html  # created by
    assert "never" in html

    assert Api(app.test_client(), plaintext).get("/incomplete-orders/cart-1").status_code == 404

    [key] = _keys(app)
    assert key.last_used_at is not None
    assert "never" not in client.get("/api-keys/").text


def test_creating_a_key_is_audited_without_its_secret(app, client, manager_id):
    plaintext = _plaintext(_create(client))
    [key] = _keys(app)
    [event] = _events(app, "api_key.create")
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "staff",
        manager_id,
        "manager@example.com",
    )
    assert (event.record_type, event.record_id) == ("api_key", key.id)
    assert event.details == {"name": "Storefront production", "prefix": key.prefix}
    assert plaintext not in event.details_json


def test_a_revoked_key_is_refused_from_then_on(app, client, manager_id):
    plaintext = _plaintext(_create(client))
    api = Api(app.test_client(), plaintext)
    assert api.get("/incomplete-orders/cart-1").status_code == 404
    [key] = _keys(app)

    response = client.post(f"/api-keys/{key.id}/revoke", follow_redirects=True)

    assert response.status_code == 200
    assert "Revoked “Storefront production”." in response.text
    assert f'action="/api-keys/{key.id}/revoke"' not in response.text  # no button any more
    [key] = _keys(app)
    assert key.revoked_at is not None and key.revoked_by_id == manager_id
    refused = api.get("/incomplete-orders/cart-1")
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "unauthorized"
    [event] = _events(app, "api_key.revoke")
    assert (event.actor_type, event.actor_id, event.record_id) == ("staff", manager_id, key.id)


def test_revoking_twice_says_so_and_is_audited_once(app, client, manager_id):
    _create(client)
    [key] = _keys(app)
    client.post(f"/api-keys/{key.id}/revoke")

    response = client.post(f"/api-keys/{key.id}/revoke", follow_redirects=True)

    assert "The key “Storefront production” is already revoked." in response.text
    assert len(_events(app, "api_key.revoke")) == 1


def test_revoking_an_unknown_key_is_404(client, manager_id):
    assert client.post("/api-keys/999/revoke").status_code == 404


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the key a name."),
        ("   ", "Give the key a name."),
        ("x" * 101, "Field cannot be longer than 100 characters."),
    ],
)
def test_a_key_needs_a_name(app, client, manager_id, name, message):
    response = _create(client, name)
    assert response.status_code == 422
    assert message in response.text
    assert not KEY_PATTERN.search(response.text)
    assert _keys(app) == []
    assert _events(app, "api_key.create") == []


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_only_managers_manage_keys(app, client, login, make_staff, role):
    login(role)
    assert client.get("/api-keys/").status_code == 403
    assert _create(client).status_code == 403
    assert _keys(app) == []

    # A key a manager made cannot be revoked by anyone else either.
    manager = app.test_client()
    make_staff("manager", "boss@example.com")
    manager.post("/login", data={"email": "boss@example.com", "password": "correct-horse-battery"})
    _create(manager)
    [key] = _keys(app)
    assert client.post(f"/api-keys/{key.id}/revoke").status_code == 403
    [key] = _keys(app)
    assert key.revoked_at is None
    with app.app_context():
        revokes = select(func.count()).where(AuditEvent.action == "api_key.revoke")
        assert db.session.scalar(revokes) == 0
