"""Signing in and out: the form, safe redirects, throttling, deactivation, cookies."""

import re

import pytest
from sqlalchemy import func, select

from config import ProductionConfig, TestConfig
from dashboard import create_app
from dashboard.auth.models import LoginFailure
from dashboard.extensions import db
from tests.factories import PASSWORD


def _sign_in(client, email, password=PASSWORD, address="127.0.0.1", **fields):
    return client.post(
        "/login",
        data={"email": email, "password": password, **fields},
        environ_base={"REMOTE_ADDR": address},
    )


def test_login_form_asks_for_email_and_password(client):
    html = client.get("/login").text
    assert 'name="email"' in html
    assert 'name="password"' in html
    # A password manager fills in the saved account.
    assert re.search(r'<input[^>]*autocomplete="username"[^>]*name="email"', html)
    assert re.search(r'<input[^>]*autocomplete="current-password"[^>]*name="password"', html)


def test_wrong_password_is_refused_with_a_clear_message(client, make_staff):
    make_staff("agent")
    response = _sign_in(client, "agent@example.com", "not-the-password")
    assert response.status_code == 401
    assert "That email and password do not match an active account." in response.text
    assert client.get("/").status_code == 302


def test_good_password_goes_to_the_page_asked_for(client, make_staff):
    make_staff("agent")
    response = _sign_in(client, "agent@example.com", next="/orders/?sort=-total")
    assert response.status_code == 302
    assert response.headers["Location"] == "/orders/?sort=-total"
    assert client.get("/orders/").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_pointing_off_site_goes_to_the_overview(client, make_staff, target):
    make_staff("agent")
    response = _sign_in(client, "agent@example.com", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- throttling ------------------------------------------------------------------------


def _fail_until_throttled(app, client, email):
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        assert _sign_in(client, email, "wrong-password").status_code == 401


def test_too_many_failures_lock_the_account_even_for_the_right_password(app, client, make_staff):
    make_staff("agent")
    _fail_until_throttled(app, client, "agent@example.com")
    response = _sign_in(client, "agent@example.com")
    assert response.status_code == 429
    minutes = app.config["LOGIN_FAILURE_WINDOW_MINUTES"]
    assert f"Too many failed sign-ins. Try again in {minutes} minutes." in response.text
    assert client.get("/").status_code == 302


def test_the_throttle_is_kept_in_the_database_for_every_process(app, client, make_staff):
    make_staff("agent")
    _fail_until_throttled(app, client, "Agent@Example.com")
    with app.app_context():
        recorded = db.session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.key == "account:agent@example.com")
        )
    assert recorded == app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]

    class SameDatabase(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        WTF_CSRF_ENABLED = False

    other_process = create_app(SameDatabase)
    try:
        response = _sign_in(other_process.test_client(), "agent@example.com")
        assert response.status_code == 429
    finally:
        with other_process.app_context():
            db.engine.dispose()


def test_too_many_failures_from_one_address_throttle_every_account(
    app, client, make_staff, monkeypatch
):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 4)
    make_staff("agent")
    attacker = "203.0.113.7"
    for n in range(4):
        response = _sign_in(client, f"guess{n}@example.com", "guess", address=attacker)
        assert response.status_code == 401

    assert _sign_in(client, "agent@example.com", address=attacker).status_code == 429
    assert _sign_in(client, "agent@example.com", address="198.51.100.2").status_code == 302


def test_a_successful_sign_in_clears_the_accounts_failures(app, client, make_staff):
    make_staff("agent")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
        _sign_in(client, "agent@example.com", "wrong-password")
    assert _sign_in(client, "agent@example.com").status_code == 302
    client.post("/logout")
    assert _sign_in(client, "agent@example.com", "wrong-password").status_code == 401
    assert _sign_in(client, "agent@example.com").status_code == 302


# --- signing out -------------------------------------------------------------------------


def test_logout_is_post_only_and_signs_out(client, login):
    login("agent")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200

    response = client.post("/logout", follow_redirects=True)
    assert "You are signed out." in response.text
    assert client.get("/").status_code == 302


def test_deactivated_account_is_signed_out_at_its_next_request(app, client, login, make_staff):
    login("manager")
    agent_id = make_staff("agent")
    agent = app.test_client()
    assert _sign_in(agent, "agent@example.com").status_code == 302
    assert agent.get("/").status_code == 200

    assert client.post(f"/staff/{agent_id}/deactivate").status_code == 302

    response = agent.get("/incomplete-orders/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert _sign_in(agent, "agent@example.com").status_code == 401


# --- cookies and secrets -----------------------------------------------------------------


def test_session_cookie_is_http_only_and_same_site_lax(client, make_staff):
    make_staff("agent")
    response = _sign_in(client, "agent@example.com")
    session_cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")
    )
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


@pytest.mark.parametrize("secret", [None, "short", "dev-only-not-secret"])
def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch, secret):
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)


def test_production_starts_with_a_long_random_secret_and_secure_cookies(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "9f" * 32)
    app = create_app(ProductionConfig)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
