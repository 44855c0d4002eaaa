"""Limits on one signed-in staff member: requests per clock minute, counted in the database
(exact under concurrency, shared by every process), and CSV exports streaming at once (a
second one waits for the first to end or be closed; a crashed process's slot lapses).

The suite's settings lift both limits; these tests lower them for themselves, and run the
limits' clock (dashboard.rate_limit._clock) by hand so that no test straddles a minute."""

import queue
import threading
import time

import pytest
from sqlalchemy import func, select

from config import SettingsError, TestConfig
from dashboard import create_app, csv_export, rate_limit
from dashboard.extensions import db
from dashboard.rate_limit import RunningExport, StaffRequestCount
from tests.factories import PASSWORD

PAGE = "/account/password"  # a staff page any role may open, reading little
EXPORT = "/incomplete-orders/export.csv"


class Clock:
    def __init__(self):
        self.now = (time.time() // 60) * 60 + 10  # ten seconds into a minute

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rate_limit, "_clock", lambda: clock.now)
    return clock


@pytest.fixture
def limit_of_5(app, monkeypatch, clock):
    monkeypatch.setitem(app.config, "STAFF_RATE_LIMIT_PER_MINUTE", 5)
    return clock


@pytest.fixture
def one_export_each(app, monkeypatch, clock):
    monkeypatch.setitem(app.config, "EXPORT_CONCURRENCY_PER_STAFF", 1)
    monkeypatch.setitem(app.config, "EXPORT_CONCURRENCY_TOTAL", 2)
    return clock


def _sign_in(app, email):
    browser = app.test_client()
    response = browser.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return browser


def _counted(app):
    with app.app_context():
        return db.session.scalar(select(func.coalesce(func.sum(StaffRequestCount.count), 0)))


def _assert_refused(response, retry_after=None):
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    if retry_after is not None:
        assert wait == retry_after
    return wait


# --- requests per minute ----------------------------------------------------------------


def test_the_request_over_the_limit_gets_429_with_retry_after_and_the_next_minute_opens(
    app, client, login, limit_of_5
):
    login("agent")
    for _ in range(5):
        assert client.get(PAGE).status_code == 200

    refused = client.get(PAGE)

    _assert_refused(refused, retry_after=50)  # the clock is 10 s into its minute
    assert "more than 5 requests in a minute" in refused.text
    assert "Wait 50 seconds, then try again." in refused.text
    assert "<h1" in refused.text and "429" in refused.text  # a page, not a bare status

    limit_of_5.advance(50)  # the next minute
    assert client.get(PAGE).status_code == 200
    with app.app_context():
        rows = db.session.execute(select(StaffRequestCount.minute, StaffRequestCount.count)).all()
    # The first request of a minute forgot the minutes before.
    assert rows == [(int(limit_of_5.now // 60), 1)]


def test_an_htmx_request_over_the_limit_is_told_in_a_toast(app, client, login, limit_of_5):
    login("viewer")
    for _ in range(5):
        client.get("/incomplete-orders/", headers={"HX-Request": "true"})

    refused = client.get("/incomplete-orders/", headers={"HX-Request": "true"})

    _assert_refused(refused, retry_after=50)
    assert refused.text == ""  # htmx swaps no 429; the page shows the toast
    assert "more than 5 requests in a minute" in refused.headers["HX-Trigger"]
    assert '"level": "error"' in refused.headers["HX-Trigger"]


def test_static_files_health_checks_and_anonymous_pages_are_not_counted(
    app, client, login, limit_of_5
):
    for _ in range(10):
        assert client.get("/login").status_code == 200
    login("agent")
    for _ in range(10):
        assert client.get("/static/app.css").status_code == 200
        assert client.get("/healthz").status_code == 200
    assert _counted(app) == 0
    assert client.get(PAGE).status_code == 200
    assert _counted(app) == 1


def test_the_limit_is_per_staff_member_and_signing_out_is_always_allowed(
    app, client, login, make_staff, limit_of_5
):
    login("agent")
    make_staff("viewer")
    colleague = _sign_in(app, "viewer@example.com")
    for _ in range(6):
        client.get(PAGE)
    assert client.get(PAGE).status_code == 429

    assert colleague.get(PAGE).status_code == 200
    assert client.post("/logout").status_code == 302


def test_the_count_is_in_the_database_so_another_process_sees_it(app, client, login, limit_of_5):
    login("agent")
    for _ in range(5):
        assert client.get(PAGE).status_code == 200

    class OtherProcess(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        WTF_CSRF_ENABLED = False
        STAFF_RATE_LIMIT_PER_MINUTE = 5

    other = create_app(OtherProcess)
    try:
        browser = other.test_client()
        browser.set_cookie("session", client.get_cookie("session").value)
        _assert_refused(browser.get(PAGE))
    finally:
        with other.app_context():
            db.engine.dispose()
    assert _counted(app) == 6


def test_concurrent_requests_are_counted_exactly(app, client, login, monkeypatch, clock):
    monkeypatch.setitem(app.config, "STAFF_RATE_LIMIT_PER_MINUTE", 10)
    login("agent")
    cookie = client.get_cookie("session").value
    start = threading.Barrier(20)
    statuses = []

    def browse():
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        start.wait()
        statuses.append(browser.get(PAGE).status_code)

    threads = [threading.Thread(target=browse) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 10 + [429] * 10
    assert _counted(app) == 20


# --- exports streaming at once ----------------------------------------------------------


class Download:
    """An export streamed in a thread of its own, as a server's thread streams it (in the
    test's thread, the paused download would lend its request context to the next request),
    and read a chunk at a time when asked."""

    def __init__(self, browser, url=EXPORT):
        self._commands, self._answers = queue.Queue(), queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(browser, url), daemon=True)
        self._thread.start()
        self.status = self._answer()

    def _run(self, browser, url):
        try:
            response = browser.get(url, buffered=False)
            chunks = response.iter_encoded()
            self._answers.put(response.status_code)
            while (command := self._commands.get()) != "close":
                self._answers.put(next(chunks) if command == "next" else b"".join(chunks))
            response.close()
            self._answers.put(None)
        except Exception as error:  # shown in the test's thread
            self._answers.put(error)

    def _answer(self):
        answer = self._answers.get(timeout=30)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def next_chunk(self):
        self._commands.put("next")
        return self._answer()

    def rest(self):
        self._commands.put("rest")
        return self._answer()

    def close(self):
        if self._thread.is_alive():
            self._commands.put("close")
            self._answer()
            self._thread.join(timeout=30)


@pytest.fixture
def download():
    started = []

    def start(browser, url=EXPORT):
        started.append(Download(browser, url))
        return started[-1]

    yield start
    for each in started:
        each.close()


@pytest.fixture
def carts(make_incomplete_order):
    return [make_incomplete_order() for _ in range(3)]


def _slots(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RunningExport))


def test_a_second_export_while_the_first_is_still_read_is_refused_until_it_ends(
    app, client, login, carts, one_export_each, download
):
    login("viewer")
    first = download(client)
    assert first.next_chunk().startswith(b"id,cart_id,status")  # the download has begun

    second = client.get(EXPORT)

    _assert_refused(second, retry_after=30)
    assert "An export you started is still running; wait for it to finish" in second.text
    assert first.rest().count(b"\n") == len(carts)  # the first export is whole
    assert _slots(app) == 0  # freed when it ended, before the response was closed
    third = client.get(EXPORT)
    assert third.status_code == 200
    assert third.data.count(b"\n") == len(carts) + 1


def test_an_export_closed_half_read_frees_its_slot(
    app, client, login, carts, one_export_each, download
):
    login("viewer")
    first = download(client)
    first.next_chunk()
    assert client.get(EXPORT).status_code == 429

    first.close()  # the browser went away

    assert _slots(app) == 0
    assert client.get(EXPORT).status_code == 200


def test_an_export_closed_unread_frees_its_slot(app, client, login, carts, one_export_each):
    login("viewer")
    first = client.get(EXPORT, buffered=False)
    assert first.status_code == 200
    first.close()
    assert _slots(app) == 0
    assert client.get(EXPORT).status_code == 200


def test_colleagues_export_alongside_up_to_the_total(
    app, client, login, make_staff, carts, one_export_each, download
):
    login("viewer")
    make_staff("agent")
    make_staff("manager")
    colleague = _sign_in(app, "agent@example.com")
    third = _sign_in(app, "manager@example.com")
    download(client).next_chunk()

    theirs = download(colleague)
    assert theirs.status == 200
    theirs.next_chunk()
    refused = third.get(EXPORT)

    _assert_refused(refused, retry_after=30)
    assert "2 exports are running for other staff right now" in refused.text
    theirs.close()
    assert third.get(EXPORT).status_code == 200


def test_a_slot_left_by_a_crashed_process_lapses(app, client, login, carts, one_export_each):
    staff_id = login("viewer")
    clock = one_export_each
    with app.app_context():  # a worker that died while streaming never released this
        db.session.add(
            RunningExport(
                scope=f"staff:{staff_id}", slot=0, token="d" * 32, expires_at=int(clock.now) + 60
            )
        )
        db.session.commit()
    assert client.get(EXPORT).status_code == 429

    clock.advance(rate_limit.EXPORT_LEASE_SECONDS)

    assert client.get(EXPORT).status_code == 200


def test_a_long_export_renews_its_slot_while_it_streams(
    app, client, login, carts, one_export_each, monkeypatch, download
):
    monkeypatch.setattr(csv_export, "ROWS_PER_CHUNK", 1)
    monkeypatch.setattr(rate_limit, "EXPORT_RENEW_SECONDS", 0)
    clock = one_export_each
    login("viewer")
    first = download(client)
    first.next_chunk()  # the header
    first.next_chunk()  # the first row
    clock.advance(50)
    first.next_chunk()  # the second row, after the slot was renewed at the new time
    clock.advance(50)  # past the first lease, within the renewed one

    assert client.get(EXPORT).status_code == 429
    first.rest()
    assert client.get(EXPORT).status_code == 200


def test_concurrent_exports_by_one_person_get_exactly_one_slot(
    app, client, login, carts, one_export_each
):
    login("viewer")
    cookie = client.get_cookie("session").value
    start, answered = threading.Barrier(8), threading.Barrier(8)
    statuses = []

    def export():
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        start.wait()
        response = browser.get(EXPORT, buffered=False)
        statuses.append(response.status_code)
        answered.wait()  # every one answered while the others still hold theirs
        response.close()

    threads = [threading.Thread(target=export) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [429] * 7
    assert _slots(app) == 0
    assert client.get(EXPORT).status_code == 200


# --- settings -----------------------------------------------------------------------------


def test_the_limits_are_checked_settings(monkeypatch):
    class Limits(TestConfig):
        STAFF_RATE_LIMIT_PER_MINUTE = 0
        EXPORT_CONCURRENCY_PER_STAFF = 3
        EXPORT_CONCURRENCY_TOTAL = 2

    with pytest.raises(SettingsError) as refused:
        Limits.load("/nowhere")
    lines = str(refused.value).splitlines()
    assert any(line.startswith("STAFF_RATE_LIMIT_PER_MINUTE=0: ") for line in lines)
    assert any(
        line.startswith("EXPORT_CONCURRENCY_TOTAL=2: must be at least EXPORT_CONCURRENCY_PER_STAFF")
        for line in lines
    )


def test_every_csv_export_waits_for_the_one_already_running(app, client, login, one_export_each):
    staff_id = login("manager")
    exports = sorted(rule.rule for rule in app.url_map.iter_rules() if rule.rule.endswith(".csv"))
    assert len(exports) >= 7  # incomplete orders, returns and the analytics CSVs
    for url in exports:
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
    with app.app_context():  # one of theirs streaming in another tab
        db.session.add(
            RunningExport(
                scope=f"staff:{staff_id}",
                slot=0,
                token="t" * 32,
                expires_at=int(one_export_each.now) + 60,
            )
        )
        db.session.commit()
    for url in exports:
        _assert_refused(client.get(url), retry_after=30)
