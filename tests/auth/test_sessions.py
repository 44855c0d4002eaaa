"""Sessions that end: a copied session cookie or remember cookie stops working after a
sign-out, a deactivation, a new password or "sign out everywhere"; the CSRF secret is new
after sign-in."""

import pytest
from sqlalchemy import select

from dashboard.audit.models import AuditEvent
from dashboard.auth.models import Staff
from dashboard.extensions import db
from tests.factories import PASSWORD
from tests.helpers import csrf_token_from

NEW_PASSWORD = "a-brand-new-passphrase"


def _sign_in(client, email="agent@example.com", password=PASSWORD, remember=False):
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.text
    return response


def _cookie(client, name):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def _browser_with(app, **cookies):
    """A fresh browser holding only these (copied) cookies."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


def _signed_in(browser):
    return browser.get("/orders/").status_code == 200


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def test_a_copied_session_cookie_stops_working_after_sign_out(app, client, agent):
    _sign_in(client)
    copied = _cookie(client, "session")
    assert _signed_in(_browser_with(app, session=copied))  # the copy works while signed in

    client.post("/logout")

    assert not _signed_in(client)
    replayed = _browser_with(app, session=copied)
    response = replayed.get("/orders/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_remember_cookie_alone_signs_in_until_sign_out(app, client, agent):
    _sign_in(client, remember=True)
    remember = _cookie(client, "remember_token")
    assert remember
    assert _signed_in(_browser_with(app, remember_token=remember))

    client.post("/logout")

    assert not _signed_in(_browser_with(app, remember_token=remember))


def test_cookies_from_before_a_deactivation_stay_dead_after_reactivation(
    app, client, agent, make_staff
):
    _sign_in(client, remember=True)
    session, remember = _cookie(client, "session"), _cookie(client, "remember_token")

    manager = app.test_client()
    make_staff("manager")
    _sign_in(manager, "manager@example.com")
    manager.post(f"/staff/{agent}/deactivate")
    assert not _signed_in(client)
    manager.post(f"/staff/{agent}/activate")

    assert not _signed_in(client)
    assert not _signed_in(_browser_with(app, session=session))
    assert not _signed_in(_browser_with(app, remember_token=remember))
    # The account itself works again: a new sign-in does.
    fresh = app.test_client()
    _sign_in(fresh)
    assert _signed_in(fresh)


def test_changing_ones_password_signs_out_every_other_browser_but_this_one(app, client, agent):
    laptop, phone = client, app.test_client()
    _sign_in(laptop)
    _sign_in(phone, remember=True)
    phone_remember = _cookie(phone, "remember_token")

    response = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302

    assert _signed_in(laptop)
    assert not _signed_in(phone)
    assert not _signed_in(_browser_with(app, remember_token=phone_remember))
    assert (
        app.test_client()
        .post("/login", data={"email": "agent@example.com", "password": PASSWORD})
        .status_code
        == 401
    )
    _sign_in(app.test_client(), password=NEW_PASSWORD)


def test_sign_out_everywhere_ends_every_session_and_is_audited(app, client, agent):
    laptop, phone = client, app.test_client()
    _sign_in(laptop, remember=True)
    _sign_in(phone, remember=True)
    phone_cookies = {
        "session": _cookie(phone, "session"),
        "remember_token": _cookie(phone, "remember_token"),
    }

    response = laptop.post("/account/sign-out-everywhere", follow_redirects=True)
    assert "You are signed out in every browser." in response.text

    assert not _signed_in(laptop)
    assert not _signed_in(phone)
    assert not _signed_in(_browser_with(app, **phone_cookies))
    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.sign_out_everywhere")
        ).all()
        assert (event.actor_id, event.record_id) == (agent, agent)


def test_a_session_from_before_session_versions_is_signed_out(app, agent):
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = str(agent)  # what a cookie held before versions
        session["_fresh"] = True
    assert not _signed_in(browser)


@pytest.mark.parametrize("identifier", ["{id}:999", "{id}", "x:1", "99999999999:1", "{id}:1:2"])
def test_a_forged_or_stale_identifier_signs_nobody_in(app, agent, identifier):
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = identifier.format(id=agent)
    response = browser.get("/orders/")
    assert response.status_code == 302


def test_a_csrf_token_from_before_sign_in_is_refused_after_it(app, client, agent, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    login_page = client.get("/login").text
    before = csrf_token_from(login_page)
    response = client.post(
        "/login", data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302

    stale = client.post("/account/sign-out-everywhere", data={"csrf_token": before})
    assert stale.status_code == 400
    assert _signed_in(client)
    with app.app_context():
        assert db.session.get(Staff, agent).session_version == 1

    fresh = csrf_token_from(client.get("/account/password").text)
    assert (
        client.post("/account/sign-out-everywhere", data={"csrf_token": fresh}).status_code == 302
    )
    assert not _signed_in(client)


@pytest.mark.parametrize("target", ["/orders/\r\nSet-Cookie: x=1", "/orders/\n", "/\x00"])
def test_a_next_with_control_characters_goes_to_the_overview(client, agent, target):
    response = client.post(
        "/login", data={"email": "agent@example.com", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Signed in already, the sign-in page sends them on the same way.
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"
