"""The benchmarks' shared harness: a fresh database, the app's environment and setup,
serving the app (gunicorn, or in this process), an HTTP client that signs in, timing
(percentiles, SQL statements, where the time goes) and Markdown tables.

Everything talks to 127.0.0.1 only. Progress goes to stderr (`log`), reports to stdout.
A benchmark's `main(argv)` returns its exit code through `run`: 0 targets met, 1 a
target missed (or a check failed, where the benchmark says so), 2 it could not run.

The database is set up in this process (`flask db upgrade`, `seed-demo`, `create-staff`
run as commands of the app here), so a benchmark starts the app once before serving it.
The app is imported only after `app_environment` has set the environment it reads
(without a DATABASE_URL it would use the project's instance/ folder).
"""

import contextlib
import cProfile
import functools
import html
import http.client
import io
import math
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))  # the app, for benchmarks that run it in-process

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(benchmark):
    """Run `benchmark(cleanup)` and return its exit code; `cleanup` is an ExitStack,
    unwound at the end whatever happens. A BenchError ends the run with exit code 2."""
    try:
        with ExitStack() as cleanup:
            return benchmark(cleanup)
    except BenchError as error:
        log(f"\nBENCHMARK FAILED: {error}")
        return 2


# --------------------------------------------------------------------------- database


def require_local(url):
    host = make_url(url).host
    if host and host not in LOCAL_HOSTS and not host.startswith("/"):
        raise BenchError(f"The benchmark only talks to this machine; {host!r} is not local.")


def database_kind(url):
    return "PostgreSQL" if make_url(url).get_backend_name() == "postgresql" else "SQLite"


@dataclass
class Database:
    url: str
    kind: str  # "SQLite" or "PostgreSQL"
    name: str  # of the PostgreSQL database
    temp_dir: str | None = None
    reused: bool = False

    def remove(self, keep=False):
        if self.reused:
            return
        if keep:
            log(f"Kept the database: {self.url}")
        elif self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        elif self.kind == "PostgreSQL":
            _recreate_postgres_database(self.url, self.name, create=False)


def fresh_database(name, cleanup, keep=False, reuse_url=None):
    """A SQLite file in a temp dir, or, when DATABASE_URL is a ``postgresql+psycopg://``
    URL (on this machine), a fresh database called `name` on that server. Removed at the
    end unless `keep`; `reuse_url` names an existing database to use instead (kept)."""
    if reuse_url:
        require_local(reuse_url)
        database = Database(reuse_url, database_kind(reuse_url), name, reused=True)
    elif (server_url := os.environ.get("DATABASE_URL", "")).startswith("postgresql+psycopg://"):
        require_local(server_url)
        log(f"Creating a fresh PostgreSQL database {name} ...")
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        _recreate_postgres_database(url, name, create=True)
        database = Database(url, "PostgreSQL", name)
    else:
        temp_dir = tempfile.mkdtemp(prefix=f"{name.replace('_', '-')}-")
        database = Database(f"sqlite:///{temp_dir}/bench.sqlite3", "SQLite", name, temp_dir)
    cleanup.callback(database.remove, keep)
    return database


def _postgres_connect_args(url, dbname):
    url = make_url(url)
    args = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": dbname,
        **url.query,
    }
    return {key: value for key, value in args.items() if value is not None}


def _recreate_postgres_database(url, name, create):
    """Drop the database `name` (ending leftover sessions), then create it if asked."""
    import psycopg

    try:
        with psycopg.connect(**_postgres_connect_args(url, "postgres"), autocommit=True) as conn:
            # WITH (FORCE) ends the sessions of an earlier, interrupted run (PostgreSQL 13+).
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(f"DROP DATABASE IF EXISTS {name}{force}")
            if create:
                conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as error:
        raise BenchError(f"Cannot (re)create {name} on the server: {error}") from None


# --------------------------------------------------------------------------- the app


def app_environment(database_url, **settings):
    """The app's environment, set in this process too (for the app run in-process and the
    demo vocabulary); returns a copy for subprocesses. `settings` are extra variables."""
    os.environ.update(
        DATABASE_URL=database_url,
        RECLAIM_ENV="development",
        SECRET_KEY=SECRET_KEY,
        FLASK_APP="wsgi",
        SCHEDULER_ENABLED="false",  # background jobs would skew timings and memory
        # A benchmark signs in once and asks far more than a person does; the staff
        # limit's per-request upsert still runs, so its cost is in every timing.
        STAFF_RATE_LIMIT_PER_MINUTE="100000000",
        **{name: str(value) for name, value in settings.items()},
    )
    return dict(os.environ)


def in_process_app(background_checkpoints=True):
    """The app in this process, with the base settings as in production (no debug mode,
    so no template reloading), from the environment `app_environment` set. Setting up a
    database for a server needs no SQLite checkpoint thread of its own."""
    from config import Config
    from dashboard import create_app

    class Bench(Config):
        SQLITE_BACKGROUND_CHECKPOINTS = background_checkpoints

    return create_app(Bench)


def flask_command(app, *args, check=True):
    """Run `flask ARGS` in this process, its output on stderr; returns whether it worked."""
    import click

    log("$ flask " + " ".join(args))
    with app.app_context(), contextlib.redirect_stdout(sys.stderr):
        try:
            app.cli.main(args=list(args), prog_name="flask", standalone_mode=False)
        except click.ClickException as error:
            if check:
                message = error.format_message()
                raise BenchError(f"`flask {' '.join(args)}` failed: {message}") from None
            log(f"Error: {error.format_message()}")
            return False
    return True


def migrate(app):
    """`flask db upgrade`."""
    from flask_migrate import upgrade

    log("$ flask db upgrade")
    with app.app_context():
        upgrade()


def seed_demo(app, orders, days=None):
    """Migrate and seed `orders` demo carts (seed 1), over `days` (seed-demo's default
    otherwise); returns how long seed-demo took."""
    migrate(app)
    started = time.perf_counter()
    spread = ["--days", str(days)] if days else []
    flask_command(app, "seed-demo", "--orders", str(orders), "--seed", "1", *spread)
    seconds = time.perf_counter() - started
    log(f"seed-demo took {seconds:.1f} s")
    return seconds


def create_staff(app, email, password, role="manager", check=True):
    flask_command(app, "create-staff", email, "--role", role, "--password", password, check=check)


def issue_api_key(app, name, staff_email):
    """A new API key `name`, issued by the staff member (made beforehand); its plaintext."""
    from sqlalchemy import select

    from dashboard.api_keys.service import issue_key
    from dashboard.audit.service import Actor
    from dashboard.auth.models import Staff
    from dashboard.extensions import db

    log(f"Issuing the API key {name!r} ...")
    with app.app_context():
        staff = db.session.scalar(select(Staff).where(Staff.email == staff_email))
        if staff is None:
            raise BenchError(f"No staff account {staff_email} to issue the API key")
        _, plaintext = issue_key(name, Actor.staff(staff), staff)
        db.session.commit()
        return plaintext


def settle(url):
    """Table statistics and visibility maps for freshly seeded data, as a database in
    service has them. PostgreSQL's autovacuum (on by default, but a benchmark server may
    run without it) would have vacuumed and analyzed the loaded tables: until then it
    plans them from no statistics and reads the table behind every index entry, as no
    page is yet known to be all-visible. SQLite gets ANALYZE."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            connection.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    finally:
        engine.dispose()


def dispose(app):
    """Close the app's database connections (before another process takes over)."""
    from dashboard.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --------------------------------------------------------------------------- serving


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn -w 1 -k sync` serving wsgi:app on a free port of 127.0.0.1; a context
    manager that waits for /healthz and stops the whole process group at the end (showing
    the end of its log when the benchmark failed).

    `workers` and `worker_class` change the first two; `worker_class=None` keeps what
    gunicorn.conf.py says (threaded workers), as the README's production command does."""

    def __init__(self, env, workers=1, worker_class="sync"):
        self.env = env
        self.workers = workers
        self.worker_class = worker_class
        self.port = free_port()
        self.log_dir = tempfile.mkdtemp(prefix="reclaim-bench-gunicorn-")
        self.log_path = Path(self.log_dir) / "gunicorn.log"
        self.process = None

    def __enter__(self):
        command = [sys.executable, "-m", "gunicorn", "-w", str(self.workers)]
        if self.worker_class:
            command += ["-k", self.worker_class]
        if self.worker_class == "sync":
            # gunicorn.conf.py asks for threads, and with threads gunicorn runs gthread
            # workers whatever -k says: one thread is a sync worker.
            command += ["--threads", "1"]
        command += ["-b", f"127.0.0.1:{self.port}", "wsgi:app"]
        log(f"Starting gunicorn on 127.0.0.1:{self.port} (log: {self.log_path})")
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.stop()
        if exc is not None:
            log(f"--- gunicorn log (last lines) ---\n{self.log_tail()}")
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def _wait_until_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.process.returncode}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        raise BenchError(f"/healthz did not answer 200 within {timeout} s")

    def stop(self):
        """TERM to the process group, then KILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no gunicorn log)"

    def worker_pids(self):
        """The worker processes: children of the gunicorn master, from /proc/*/stat."""
        workers = []
        for stat_path in Path("/proc").glob("[0-9]*/stat"):
            try:
                stat = stat_path.read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ..." - comm may hold spaces and parentheses.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                workers.append(int(stat_path.parent.name))
        if not workers:
            raise BenchError("Found no gunicorn worker process")
        return workers

    def worker_peak_memory_mb(self):
        """The largest `VmHWM` among the workers."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        if not peaks:
            raise BenchError("No VmHWM in the workers' /proc status")
        return max(peaks)

    def worker_cpu_seconds(self):
        """CPU time (user + system) the workers have used so far."""
        total = 0.0
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


# --------------------------------------------------------------------------- HTTP client


@dataclass
class Response:
    status: int
    headers: object
    body: bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def location(self):
        return self.headers.get("Location", "")


_INPUT_TAG = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""\bvalue\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def find_csrf_token(page):
    for tag in _INPUT_TAG.findall(page):
        if re.search(r"""\bname\s*=\s*["']csrf_token["']""", tag):
            value = _VALUE_ATTR.search(tag)
            if value:
                return html.unescape(value.group(1))
    return None


def snippet(text, length=600):
    text = re.sub(r"\s+", " ", text)
    return text[:length] + ("…" if len(text) > length else "")


class Client:
    """One http.client connection to 127.0.0.1 with a cookie jar: a browser stand-in for
    staff pages (`sign_in`, forms) and the storefront's client for the API (`headers`).

    gunicorn's sync worker closes each connection after its response (counted in
    `closed_by_server`); http.client then opens a new one for the next request.
    """

    def __init__(self, port, headers=None, timeout=600):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = dict(headers or {})
        self.cookies = {}
        self.csrf_token = None
        self.closed_by_server = 0

    def request(self, method, path, body=None, headers=None):
        headers = {**self.headers, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.connection.request(method, path, body=body, headers=headers)
            raw = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if method != "GET":
                raise
            self.connection.close()  # a stale kept-alive connection: once more on a new one
            self.connection.request(method, path, body=body, headers=headers)
            raw = self.connection.getresponse()
        response = Response(raw.status, raw.headers, raw.read())
        if raw.will_close:
            self.closed_by_server += 1
            self.connection.close()
        self._keep_cookies(raw.headers.get_all("Set-Cookie") or [])
        return response

    def _keep_cookies(self, set_cookie_headers):
        for header in set_cookie_headers:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path):
        return self.request("GET", path)

    def post_form(self, path, fields, headers=None):
        body = urlencode(fields).encode()
        form = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, body=body, headers=form)

    def sign_in(self, email, password):
        """Through the login form, as staff do; keeps the session's CSRF token."""
        page = self.get("/login")
        if page.status != 200:
            raise BenchError(f"GET /login answered {page.status}")
        token = find_csrf_token(page.text)
        if not token:
            raise BenchError("No csrf_token input on /login")
        fields = [("email", email), ("password", password), ("csrf_token", token), ("next", "/")]
        answer = self.post_form("/login", fields)
        if answer.status not in (302, 303):
            raise BenchError(
                f"POST /login answered {answer.status}, not a redirect:\n{snippet(answer.text)}"
            )
        overview = self.get("/")
        if overview.status != 200:
            raise BenchError(f"Not signed in: GET / answered {overview.status} {overview.location}")
        # The token belongs to the session, which signing in keeps; take the newest anyway.
        self.csrf_token = find_csrf_token(overview.text) or token

    def close(self):
        self.connection.close()


# --------------------------------------------------------------------------- timing


def percentile(values, pct):
    """Nearest-rank percentile: with few samples the p95 is the maximum."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass
class Timings:
    """Durations in milliseconds."""

    ms: list = field(default_factory=list)

    def add(self, started):
        """The time since `started` (a `time.perf_counter()`)."""
        self.ms.append((time.perf_counter() - started) * 1000)

    @property
    def p50(self):
        return statistics.median(self.ms)

    @property
    def p95(self):
        return percentile(self.ms, 95)

    @property
    def max(self):
        return max(self.ms)


def statement_kind(sql):
    """ "SELECT incomplete_orders", "INSERT outbox_messages", "BEGIN", ..."""
    words = sql.split()
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE"):
        return f"{verb} {words[2]}"
    if verb == "UPDATE":
        return f"{verb} {words[1]}"
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+(\w+)", sql)
        return f"{verb} {table.group(1) if table else ''}".strip()
    return verb


class Meter:
    """Counts the SQL statements sent to the database (an executemany counts once) and
    times them by kind, COMMITs at the dialect, and the calls of chosen public functions,
    wrapped from here where their callers look them up (the app's code is not changed).

    Each part's time is its own: a timed function's time leaves out the statements,
    commits and other timed functions inside it, so the parts add up, and what no timer
    saw is reported as everything else. A timed function that is never called fails the
    benchmark: the app's code has moved, and the breakdown would quietly lose a part.
    """

    def __init__(self, engine, functions=()):
        self.engine = engine
        self.functions = functions  # (owner, attribute name, label)
        self.statements = 0
        self.seconds = Counter()  # part -> its own seconds
        self.calls = Counter()  # part -> how many
        self._accounted = 0.0  # seconds already given to some part
        self._wrapped = []

    def _before(self, connection, cursor, statement, parameters, context, executemany):
        connection.info["bench_started"] = time.perf_counter(), self._accounted

    def _after(self, connection, cursor, statement, parameters, context, executemany):
        self.statements += 1
        self._add(f"SQL {statement_kind(statement)}", *connection.info.pop("bench_started"))

    def _add(self, part, started, inner_before):
        own = time.perf_counter() - started - (self._accounted - inner_before)
        self.seconds[part] += own
        self.calls[part] += 1
        self._accounted += own

    def _timed(self, part, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started, inner_before = time.perf_counter(), self._accounted
            try:
                return function(*args, **kwargs)
            finally:
                self._add(part, started, inner_before)

        return timed

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        for owner, name, part in [(self.engine.dialect, "do_commit", "COMMIT"), *self.functions]:
            original = getattr(owner, name, None)
            if original is None:
                raise BenchError(f"{getattr(owner, '__name__', owner)}.{name} is gone")
            self._wrapped.append((owner, name, original, name in vars(owner)))
            setattr(owner, name, self._timed(part, original))
        return self

    def __exit__(self, exc_type, exc, traceback):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        for owner, name, original, own in reversed(self._wrapped):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # back to the inherited one
        never = [part for _, _, part in self.functions if not self.calls[part]]
        if exc is None and never:
            raise BenchError(f"Timed but never called (has the app's code moved?): {never}")

    def breakdown(self, total, top_sql=6):
        """(part, seconds, calls), most time first; SQL kinds beyond the `top_sql` slowest
        summed up; then what no timer saw."""
        sql = [p for p, _ in self.seconds.most_common() if p.startswith("SQL ")]
        rows = [(p, s, self.calls[p]) for p, s in self.seconds.items() if p not in sql[top_sql:]]
        if rest := sql[top_sql:]:
            seconds = sum(self.seconds[p] for p in rest)
            rows.append(("SQL, other kinds", seconds, sum(self.calls[p] for p in rest)))
        rows.sort(key=lambda row: -row[1])
        rows.append(("everything else", total - sum(self.seconds.values()), None))
        return rows


def profiled(enabled, label, function, top=30):
    """Run `function`, under cProfile if enabled (then log its top functions)."""
    if not enabled:
        return function()
    profile = cProfile.Profile()
    value = profile.runcall(function)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top * 2 // 3)
    log(f"\n--- profile: {label} ---\n{out.getvalue()}")
    return value


# --------------------------------------------------------------------------- report


def machine():
    """CPUs and load average: other work on the machine shows in the numbers."""
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


class MachineCpu:
    """What the machine's CPUs did from its creation to `shares()`, read from /proc/stat:
    the share of their time busy (this benchmark, the server and anything else) and the
    share the hypervisor gave to other guests ("steal"). A slow run with a high steal is
    the machine's, not the code's."""

    def __init__(self):
        self.started = self._times()

    @staticmethod
    def _times():
        # cpu  user nice system idle iowait irq softirq steal guest guest_nice
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        steal = fields[7] if len(fields) > 7 else 0
        return sum(fields[:8]), idle, steal

    def shares(self):
        """(busy, stolen), each a fraction of all CPUs' time since the start."""
        total, idle, steal = (
            now - then for now, then in zip(self._times(), self.started, strict=True)
        )
        if total <= 0:
            return 0.0, 0.0
        return (total - idle - steal) / total, steal / total

    def text(self):
        busy, stolen = self.shares()
        return f"machine's CPUs {busy:.0%} busy, {stolen:.1%} stolen by the hypervisor"


def yes_no(ok):
    return "" if ok is None else ("yes" if ok else "NO")


_NUMBER = re.compile(r"^-?\d")


def print_table(header, rows):
    """A Markdown table; a column whose cells all start with a number is right-aligned."""
    rows = [[str(cell) for cell in row] for row in rows]
    numeric = [
        all(not row[i] or _NUMBER.match(row[i]) for row in rows) and any(row[i] for row in rows)
        for i in range(len(header))
    ]
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---:" if n else "---" for n in numeric) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --------------------------------------------------------------------------- timing pages

WARMUP = 3  # requests sent before timing starts (caches, the first connection)


@dataclass
class Request:
    method: str
    path: str
    form: list = field(default_factory=list)
    headers: dict = field(default_factory=dict)
    body: bytes | None = None

    def send(self, client):
        if self.method == "POST" and self.body is None:
            return client.post_form(self.path, self.form, self.headers)
        return client.request(self.method, self.path, body=self.body, headers=self.headers)


@dataclass
class Result:
    scenario: str
    timings: Timings
    target_ms: float  # the p95 must stay below it
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        return self.timings.p95 < self.target_ms


def measure(client, scenario, requests, target_ms, warmup=WARMUP, status=200, on_response=None):
    """Send `requests` (the first `warmup` untimed); each must answer `status`."""
    timings = Timings()
    for index, request in enumerate(requests):
        started = time.perf_counter()
        response = request.send(client)
        if index >= warmup:
            timings.add(started)
        if response.status != status:
            raise BenchError(
                f"{scenario}: {request.method} {request.path} answered "
                f"{response.status} {response.location}\n{snippet(response.text)}"
            )
        if on_response:
            on_response(response)
    log(f"  {scenario:<36} p50 {timings.p50:8.1f} ms   p95 {timings.p95:8.1f} ms")
    return Result(scenario, timings, target_ms)
