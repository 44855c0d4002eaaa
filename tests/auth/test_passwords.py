"""One's own password: the current one required, weak ones refused with the reason, the
change audited without the password; and the rule every password-setting place shares."""

import pytest
from sqlalchemy import select

from dashboard.audit.models import AuditEvent
from dashboard.auth.models import Staff
from dashboard.auth.rules import email_problem, password_problem
from dashboard.extensions import db
from tests.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase"


def _change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


def _staff(app, staff_id):
    with app.app_context():
        return db.session.get(Staff, staff_id)


def test_the_account_page_offers_a_password_change_and_sign_out_everywhere(client, login):
    login("viewer")
    html = client.get("/account/password").text
    assert "Change your password" in html
    assert 'autocomplete="current-password"' in html
    assert 'action="/account/sign-out-everywhere"' in html
    # Every staff page links to it from the signed-in email.
    assert 'href="/account/password"' in client.get("/").text


def test_staff_change_their_own_password_and_it_is_audited_without_it(app, client, login):
    agent_id = login("agent")
    response = _change(client)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert _staff(app, agent_id).check_password(NEW_PASSWORD)
    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.change_password")
        ).all()
        assert (event.actor_id, event.record_id) == (agent_id, agent_id)
        assert NEW_PASSWORD not in event.details_json and PASSWORD not in event.details_json


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not-my-password", NEW_PASSWORD, None, "The current password is not right."),
        (PASSWORD, "short-one", None, "The password must have at least 12 characters."),
        (PASSWORD, "password1234", None, "one of the first that anyone guessing would try"),
        (PASSWORD, "Agent@Example.com", None, "may not be the account&#39;s email address"),
        (PASSWORD, NEW_PASSWORD, "something-else-entirely", "The two new passwords differ."),
        (PASSWORD, PASSWORD, None, "The new password must differ from the current one."),
    ],
)
def test_a_refused_change_says_why_and_keeps_the_old_password(
    app, client, login, current, new, confirm, message
):
    agent_id = login("agent")
    response = _change(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.text
    assert _staff(app, agent_id).check_password(PASSWORD)
    assert client.get("/").status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("password", "email", "refused"),
    [
        ("password", None, True),
        ("12345678", None, True),
        ("qwertyuiop12", None, True),
        ("PASSWORD1234", None, True),  # case does not matter
        ("aaaaaaaaaaaaaa", None, True),
        ("ana.lopez@example.com", "Ana.Lopez@example.com", True),
        ("ana.lopez.shop", "ana.lopez.shop@example.com", True),  # the address's name part
        ("x" * 201, None, True),
        ("correct-horse-battery", "ana@example.com", False),
        ("tulip lantern 42 river", None, False),
    ],
)
def test_the_password_rule(password, email, refused):
    assert (password_problem(password, email) is not None) is refused


@pytest.mark.parametrize(
    ("email", "refused"),
    [
        ("ana@example.com", False),
        ("no-at-sign", True),
        ("ana@", True),
        ("ana@localhost", True),
        ("ana@@example.com", True),
        ("a" * 250 + "@example.com", True),
    ],
)
def test_the_email_rule_is_the_sign_in_forms(client, email, refused):
    assert (email_problem(email) is not None) is refused
    # The sign-in form agrees: it refuses the address (400) or looks the account up (401).
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == (400 if refused else 401)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ana@localhost", "tulip lantern 42 river", "not an email address the sign-in form"),
        ("ana@example.com", "password1234", "one of the first that anyone guessing would try"),
        ("ana@example.com", "ana@example.com", "may not be the account's email address"),
        ("ana@example.com", "short-one", "at least 12 characters"),
    ],
)
def test_create_staff_refuses_what_the_sign_in_form_or_the_password_rule_refuses(
    app, email, password, message
):
    result = app.test_cli_runner().invoke(
        args=["create-staff", email, "--role", "agent", "--password", password]
    )
    assert result.exit_code == 1
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(Staff).where(Staff.email == email)) is None
