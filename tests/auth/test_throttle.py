"""The sign-in throttle slows guessing without locking owners out or listing accounts: exact
counts under concurrency, device cookies, office-friendly address limits, equal timing, and
X-Forwarded-For trusted only as far as PROXY_FIX_HOPS says."""

import os
import statistics
import threading
import time

import pytest

from config import TestConfig
from dashboard import create_app
from dashboard.auth.devices import COOKIE
from dashboard.extensions import db
from tests.factories import PASSWORD


def _sign_in(client, email, password=PASSWORD, address="127.0.0.1", **kwargs):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        **kwargs,
    )


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite serializes every writing transaction; the race was PostgreSQL's",
)
def test_thirty_concurrent_wrong_passwords_check_exactly_the_limit(app, make_staff):
    make_staff("agent")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    start = threading.Barrier(30)
    statuses = []

    def guess(n):
        client = app.test_client()
        start.wait()
        response = _sign_in(client, "agent@example.com", f"guess-{n}", address=f"10.0.0.{n}")
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * limit + [429] * (30 - limit)


def test_the_owner_signs_in_from_their_own_browser_while_the_account_is_under_attack(
    app, make_staff
):
    make_staff("agent")
    owner, attacker = app.test_client(), app.test_client()
    assert _sign_in(owner, "agent@example.com").status_code == 302
    assert owner.get_cookie(COOKIE, path="/login") is not None
    owner.post("/logout")

    for n in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        assert (
            _sign_in(attacker, "agent@example.com", f"guess-{n}", "203.0.113.9").status_code == 401
        )
    # The attacker's browser (and any new one) is slowed, even with the right password ...
    assert _sign_in(attacker, "agent@example.com", address="203.0.113.9").status_code == 429
    assert _sign_in(app.test_client(), "agent@example.com").status_code == 429
    # ... the owner's is not, and a typo of theirs counts against their browser alone.
    assert _sign_in(owner, "agent@example.com", "typo").status_code == 401
    assert _sign_in(owner, "agent@example.com").status_code == 302


def test_a_device_cookie_is_only_good_for_its_account_and_cannot_be_forged(app, make_staff):
    make_staff("agent")
    make_staff("manager")
    browser = app.test_client()
    assert _sign_in(browser, "manager@example.com").status_code == 302
    browser.post("/logout")
    forged = app.test_client()
    forged.set_cookie(COOKIE, "eyJlbWFpbCI6ImFnZW50QGV4YW1wbGUuY29tIn0.x.y", path="/login")
    for client in (browser, forged):  # the manager's cookie, a made-up one: untrusted for agent
        for n in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
            _sign_in(client, "agent@example.com", f"guess-{n}")
        assert _sign_in(client, "agent@example.com").status_code == 429


def test_one_guesser_in_an_office_does_not_lock_out_colleagues_who_signed_in_before(
    app, make_staff, monkeypatch
):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 4)
    office = "198.51.100.20"
    make_staff("agent")
    colleague = app.test_client()
    assert _sign_in(colleague, "agent@example.com", address=office).status_code == 302
    colleague.post("/logout")

    guesser = app.test_client()
    for n in range(4):
        assert _sign_in(guesser, f"guess{n}@example.com", "guess", office).status_code == 401
    assert _sign_in(guesser, "agent@example.com", address=office).status_code == 429
    assert _sign_in(colleague, "agent@example.com", address=office).status_code == 302


def test_an_unknown_email_takes_as_long_as_a_wrong_password(app, client, make_staff, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "scrypt")
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 100)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 100)
    make_staff("agent")  # hashed like production (scrypt)

    def timed(email, n):
        started = time.perf_counter()
        assert _sign_in(client, email, "wrong", address=f"10.1.0.{n}").status_code == 401
        return time.perf_counter() - started

    timed("nobody@example.com", 0)  # the dummy hash is made once per process
    known = statistics.median(timed("agent@example.com", n) for n in range(1, 6))
    unknown = statistics.median(timed(f"nobody{n}@example.com", n) for n in range(6, 11))
    assert unknown > 0.6 * known, (known, unknown)


def test_behind_one_proxy_a_forged_x_forwarded_for_does_not_escape_the_address_limit(app):
    class OneProxy(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        WTF_CSRF_ENABLED = False
        PROXY_FIX_HOPS = 1
        LOGIN_MAX_FAILURES_PER_ADDRESS = 4

    proxied = create_app(OneProxy)
    try:
        client = proxied.test_client()
        # The client sends its own X-Forwarded-For; the proxy appends the address it saw.
        for n in range(4):
            forged = {"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.50"}
            response = _sign_in(client, f"guess{n}@example.com", "x", "10.0.0.2", headers=forged)
            assert response.status_code == 401
        forged = {"X-Forwarded-For": "192.0.2.99, 203.0.113.50"}
        assert _sign_in(client, "a@example.com", "x", "10.0.0.2", headers=forged).status_code == 429
        other = {"X-Forwarded-For": "203.0.113.51"}
        assert _sign_in(client, "a@example.com", "x", "10.0.0.2", headers=other).status_code == 401
    finally:
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()
