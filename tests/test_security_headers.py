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


def _every_get_route():
    import re

    class RulesOnly(TestConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    def fill(match):
        converter, args = match.group(1), match.group(2)
        return args.split(",")[0].strip().strip("'\"") if converter == "any" else "1"

    placeholder = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?\w+>")
    return sorted(
        {
            placeholder.sub(fill, rule.rule)
            for rule in create_app(RulesOnly).url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint not in ("static", "outbox.preview")
        }
    )


@pytest.mark.parametrize("path", _every_get_route())
def test_every_route_carries_the_strict_policy(client, login, path):
    login("manager")
    response = client.get(path.replace("/static/1", "/static/app.css"))
    response.get_data()
    response.close()
    headers = response.headers
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'", path
    assert csp["frame-ancestors"] == "'none'" and headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_no_page_template_has_inline_style_or_script():
    import pathlib
    import re

    templates = pathlib.Path(__file__).parent.parent / "templates"
    inline = re.compile(r"<style|\sstyle=|<script(?![^>]*\ssrc=)(?![^>]*application/json)|\son\w+=")
    found = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if path.parts[-2] != "emails" and inline.search(path.read_text())
    ]
    assert found == []


def test_the_email_preview_alone_may_use_inline_styles_and_only_our_pages_frame_it(
    client, login, shop, quiet_cart
):
    from tests.factories import hours

    cart_id, quiet = quiet_cart(email="ada@example.com", name="Ada")
    shop.run(quiet + hours(1))
    (message,) = shop.outbox(cart_id)
    assert client.get(f"/outbox/{message.id}/preview.html").status_code == 302  # staff only
    login("viewer")
    preview = client.get(f"/outbox/{message.id}/preview.html")
    assert preview.status_code == 200 and "Hello Ada," in preview.text
    csp = preview.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'unsafe-inline'" in csp
    assert "sandbox allow-same-origin" in csp and "frame-ancestors 'self'" in csp
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert preview.headers["Cache-Control"] == "no-store"
