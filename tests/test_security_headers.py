"""Every response carries the browser-side defences; pages with customer data are never
cached; HSTS only over HTTPS (a proxy's X-Forwarded-Proto counts with PROXY_FIX_HOPS)."""

import pytest

from config import TestConfig
from dashboard import create_app


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/openapi.json"])
def test_every_response_carries_the_defences(client, path):
    response = client.get(path)
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP here


def test_staff_pages_and_exports_are_not_cached_but_static_files_are(client, login):
    login("viewer")
    assert client.get("/incomplete-orders/").headers["Cache-Control"] == "no-store"
    assert client.get("/incomplete-orders/export.csv").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/app.js").headers.get("Cache-Control", "")


def test_hsts_over_https_and_behind_a_proxy_that_says_so(app, monkeypatch):
    assert (
        "Strict-Transport-Security"
        in app.test_client().get("/login", base_url="https://reclaim.example").headers
    )

    class BehindAProxy(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        PROXY_FIX_HOPS = 1

    proxied = create_app(BehindAProxy)
    response = proxied.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
