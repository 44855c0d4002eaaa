"""Browser fixtures: the app served over real HTTP with CSRF on, and a headless Chromium.

Browsers cannot be downloaded here, so Playwright drives Debian's /usr/bin/chromium.
"""

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.factories import PASSWORD
from tests.helpers import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


@pytest.fixture
def live_server(app, monkeypatch):
    """The session app on 127.0.0.1 at a free port, with CSRF protection switched on."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install chromium); `playwright install` does not work here.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, request):
    """A fresh context and page per test; a screenshot in ARTIFACTS (tests.helpers)
    when the test fails."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    report = request.node.stash.get(_reports, {}).get("call")
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            screenshot = ARTIFACTS / f"{request.node.name}.png"
            page.screenshot(path=screenshot, full_page=True)
            print(f"Screenshot of the page: {screenshot}")
        except Exception as error:  # a crashed page must not hide the test's own failure
            print(f"Could not save a screenshot: {error}")
    context.close()


@pytest.fixture
def console_errors(page):
    """Console messages of type "error" and uncaught exceptions on the page, as strings.

    Chromium's own request for /favicon.ico is left out: the app has no favicon yet, and
    that 404 comes from the browser, not from anything a page loads or runs.
    """
    errors = []

    def on_console(message):
        if message.type != "error":
            return
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        errors.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


@pytest.fixture
def sign_in(page):
    """Sign in through the real login form; lands on the overview."""

    def sign_in(email="agent@example.com", password=PASSWORD):
        page.goto("/login")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: url.endswith("/"))

    return sign_in
