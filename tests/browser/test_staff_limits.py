"""The staff limits as a browser meets them: an export link downloads the file and stays on
the page, and shows why when the export is refused; an htmx click over the request limit
says so in a toast. The limits' clock is held still (no test straddles a minute)."""

import time

import pytest
from playwright.sync_api import expect

from dashboard import rate_limit
from dashboard.extensions import db
from dashboard.rate_limit import RunningExport

pytestmark = pytest.mark.browser

REFUSED = "An export you started is still running; wait for it to finish"


@pytest.fixture
def held_clock(monkeypatch):
    now = (time.time() // 60) * 60 + 10
    monkeypatch.setattr(rate_limit, "_clock", lambda: now)
    return now


@pytest.fixture
def one_export_each(app, monkeypatch, held_clock):
    monkeypatch.setitem(app.config, "EXPORT_CONCURRENCY_PER_STAFF", 1)
    monkeypatch.setitem(app.config, "EXPORT_CONCURRENCY_TOTAL", 4)


def _export_running_elsewhere(app, staff_id, now):
    """An export of this staff member's streaming in another tab (or another worker)."""
    with app.app_context():
        db.session.add(
            RunningExport(scope=f"staff:{staff_id}", slot=0, token="t" * 32, expires_at=now + 60)
        )
        db.session.commit()


@pytest.mark.parametrize(
    ("start", "link"),
    [("/incomplete-orders/", "Export CSV"), ("/analytics/", "CSV")],
)
def test_an_export_downloads_or_says_why_it_cannot_start_yet(
    app, page, make_staff, make_incomplete_order, sign_in, one_export_each, held_clock, start, link
):
    staff_id = make_staff("agent")
    make_incomplete_order()
    sign_in()
    page.goto(start)
    with page.expect_download() as download:
        page.get_by_role("link", name=link, exact=True).first.click()
    assert download.value.failure() is None
    assert download.value.suggested_filename.endswith(".csv")
    assert page.url.endswith(start)  # the download left the page as it was

    _export_running_elsewhere(app, staff_id, int(held_clock))
    page.get_by_role("link", name=link, exact=True).first.click()

    expect(page.get_by_text(REFUSED)).to_be_visible()


def test_an_htmx_click_over_the_request_limit_is_told_in_a_toast(
    app, page, make_staff, make_incomplete_order, sign_in, held_clock, monkeypatch
):
    make_staff("agent")
    make_incomplete_order()
    sign_in()
    page.goto("/incomplete-orders/")
    monkeypatch.setitem(app.config, "STAFF_RATE_LIMIT_PER_MINUTE", 1)

    page.locator("a.sort-link").first.click()

    toast = page.locator(".app-toast.level-error")
    expect(toast).to_contain_text("You made more than 1 request in a minute. Wait 50 seconds")
    expect(page.locator("table")).to_be_visible()  # the list is still there
