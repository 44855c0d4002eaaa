"""Managers add staff, change roles and deactivate accounts, and cannot lock themselves out."""

import pytest
from sqlalchemy import func, select

from dashboard.audit.models import AuditEvent
from dashboard.auth.models import Staff
from dashboard.extensions import db


@pytest.fixture
def manager_id(login):
    return login("manager")


def _staff(app, email):
    with app.app_context():
        return db.session.scalar(select(Staff).where(Staff.email == email))


def _events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_manager_adds_a_staff_member(app, client, manager_id):
    response = client.post(
        "/staff/",
        data={"email": "New.Agent@Example.com", "role": "agent", "password": "long-enough-too"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Added new.agent@example.com as agent." in response.text
    assert "new.agent@example.com" in client.get("/staff/").text
    added = _staff(app, "new.agent@example.com")
    assert added.role == "agent" and added.check_password("long-enough-too")
    [event] = [e for e in _events(app, "staff.create") if e.record_id == added.id]
    assert event.actor_id == manager_id


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", "long-enough-too", "Invalid email address."),
        ("someone@example.com", "short", "The password must have at least 12 characters."),
        (
            "manager@example.com",
            "long-enough-too",
            "A staff account for manager@example.com already exists.",
        ),
    ],
)
def test_invalid_new_staff_is_refused_with_the_reason(
    app, client, manager_id, email, password, message
):
    response = client.post("/staff/", data={"email": email, "role": "agent", "password": password})
    assert response.status_code == 422
    assert message in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Staff)) == 1
    assert len(_events(app, "staff.create")) == 1  # the manager's own account


def test_manager_changes_a_role_and_it_is_audited(app, client, manager_id, make_staff):
    agent_id = make_staff("agent")
    response = client.post(
        f"/staff/{agent_id}/role", data={"role": "viewer"}, follow_redirects=True
    )
    assert "agent@example.com is now viewer." in response.text
    assert _staff(app, "agent@example.com").role == "viewer"
    [event] = _events(app, "staff.change_role")
    assert (event.actor_id, event.record_id) == (manager_id, agent_id)
    assert event.details == {"before": "agent", "after": "viewer"}


def test_manager_cannot_demote_themselves(app, client, manager_id):
    response = client.post(
        f"/staff/{manager_id}/role", data={"role": "agent"}, follow_redirects=True
    )
    assert "You cannot take the manager role away from yourself." in response.text
    assert _staff(app, "manager@example.com").role == "manager"
    assert _events(app, "staff.change_role") == []


def test_manager_cannot_deactivate_themselves(app, client, manager_id):
    response = client.post(f"/staff/{manager_id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in response.text
    assert _staff(app, "manager@example.com").is_active
    assert client.get("/staff/").status_code == 200


def test_manager_deactivates_and_reactivates_a_colleague(app, client, manager_id, make_staff):
    agent_id = make_staff("agent")
    client.post(f"/staff/{agent_id}/deactivate")
    assert not _staff(app, "agent@example.com").is_active
    client.post(f"/staff/{agent_id}/activate")
    assert _staff(app, "agent@example.com").is_active
    assert [e.record_id for e in _events(app, "staff.deactivate")] == [agent_id]
    assert [e.record_id for e in _events(app, "staff.activate")] == [agent_id]


def test_deactivating_asks_first_and_keeps_the_account_until_confirmed(
    app, client, login, make_staff
):
    login("manager")
    agent_id = make_staff("agent", "ada@example.com")
    page = client.get(f"/staff/{agent_id}/deactivate").text
    assert "Deactivate ada@example.com?" in page
    assert f'action="/staff/{agent_id}/deactivate"' in page
    assert "autofocus>Keep the account active" in page
    with app.app_context():
        assert db.session.get(Staff, agent_id).is_active
