"""A manager sets a colleague's temporary password: the colleague is signed out, signs in
with it once and must choose their own before anything else; audited without the password."""

import pytest
from sqlalchemy import select

from dashboard.audit.models import AuditEvent
from dashboard.auth.models import Staff
from dashboard.extensions import db
from tests.factories import PASSWORD

TEMPORARY = "temporary-tulip-42"
OWN = "my-own-lantern-river"


@pytest.fixture
def manager_id(login):
    return login("manager")


def _set(client, staff_id, password=TEMPORARY, confirm=None):
    return client.post(
        f"/staff/{staff_id}/password",
        data={"new_password": password, "confirm_password": confirm or password},
    )


def _sign_in(client, password, email="agent@example.com", **fields):
    return client.post("/login", data={"email": email, "password": password, **fields})


def test_the_staff_list_offers_a_temporary_password_for_colleagues_only(
    client, manager_id, make_staff
):
    agent_id = make_staff("agent")
    html = client.get("/staff/").text
    assert f'href="/staff/{agent_id}/password"' in html
    assert f'href="/staff/{manager_id}/password"' not in html
    page = client.get(f"/staff/{agent_id}/password").text
    assert "Set a temporary password for agent@example.com" in page
    assert 'autocomplete="new-password"' in page


def test_a_temporary_password_must_be_changed_at_the_next_sign_in(
    app, client, manager_id, make_staff
):
    agent_id = make_staff("agent")
    agents_browser = app.test_client()
    assert _sign_in(agents_browser, PASSWORD).status_code == 302

    response = _set(client, agent_id)
    assert response.status_code == 302
    assert "agent@example.com has a temporary password now" in client.get("/staff/").text
    # Their session ended; their old password no longer works.
    assert agents_browser.get("/orders/").status_code == 302
    assert _sign_in(app.test_client(), PASSWORD).status_code == 401

    agent = app.test_client()
    signed_in = _sign_in(agent, TEMPORARY, next="/orders/")
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/account/password?next=/orders/"
    page = agent.get("/account/password?next=/orders/").text
    assert "Choose a new password" in page and "Temporary password" in page
    # Nothing else until then, not even through htmx.
    blocked = agent.get("/incomplete-orders/")
    assert blocked.status_code == 302
    assert blocked.headers["Location"].startswith("/account/password")
    fragment = agent.get("/incomplete-orders/", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Redirect"].startswith("/account/password")
    assert "<table" not in fragment.text

    chosen = agent.post(
        "/account/password?next=/orders/",
        data={"current_password": TEMPORARY, "new_password": OWN, "confirm_password": OWN},
    )
    assert chosen.status_code == 302
    assert chosen.headers["Location"] == "/orders/"
    assert agent.get("/incomplete-orders/").status_code == 200
    with app.app_context():
        staff = db.session.get(Staff, agent_id)
        assert not staff.password_must_change and staff.check_password(OWN)
    assert _sign_in(app.test_client(), TEMPORARY).status_code == 401


def test_setting_a_temporary_password_is_audited_without_the_password(
    app, client, manager_id, make_staff
):
    agent_id = make_staff("agent")
    _set(client, agent_id)
    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.set_temporary_password")
        ).all()
        assert (event.actor_id, event.record_type, event.record_id) == (
            manager_id,
            "staff",
            agent_id,
        )
        assert TEMPORARY not in event.details_json
    log = client.get("/audit/?action=staff.set_temporary_password").text
    assert "Temporary password set" in log


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("password", None, "The password must have at least 12 characters."),
        ("123456789012", None, "one of the first that anyone guessing would try"),
        ("agent@example.com", None, "may not be the account&#39;s email address"),
        (TEMPORARY, "temporary-tulip-43", "The two passwords differ."),
    ],
)
def test_a_weak_temporary_password_is_refused(
    app, client, manager_id, make_staff, password, confirm, message
):
    agent_id = make_staff("agent")
    response = _set(client, agent_id, password, confirm)
    assert response.status_code == 422
    assert message in response.text
    with app.app_context():
        staff = db.session.get(Staff, agent_id)
        assert staff.check_password(PASSWORD) and not staff.password_must_change


def test_a_manager_changes_their_own_password_on_their_account_page(client, manager_id):
    response = client.get(f"/staff/{manager_id}/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    refused = _set(client, manager_id)
    assert refused.status_code == 302


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_only_managers_set_temporary_passwords(app, client, login, make_staff, role):
    login(role)
    manager_id = make_staff("manager")
    assert client.get(f"/staff/{manager_id}/password").status_code == 403
    assert _set(client, manager_id).status_code == 403
    with app.app_context():
        assert db.session.get(Staff, manager_id).check_password(PASSWORD)
