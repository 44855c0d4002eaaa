"""Benchmark the storefront's cart-snapshot upsert, PUT /api/v1/incomplete-orders/<cart_id>.

What it does:

1. Makes a fresh database: a SQLite file in a temp dir, or, when DATABASE_URL is a
   ``postgresql+psycopg://`` URL, a fresh ``reclaim_bench_ingest`` database on that
   server (dropped at the end).
2. Runs ``flask db upgrade`` and ``flask seed-demo --orders N`` (so the tables and their
   indexes are not empty), then creates a manager and an API key in the app context.
3. Starts ``gunicorn -w 1 -k sync`` on a free port of 127.0.0.1 with
   ``API_RATE_LIMIT_PER_MINUTE=100000000``: the limiter never trips, but its upsert
   still runs on every request.
4. For each concurrency (default 1, then 4): 200 untimed warm-up requests, then
   ``--requests`` timed ones. Each client thread has its own http.client connection.
   About 40% of the requests create a new cart, 60% update a cart created earlier in
   the run (newer snapshot_at, changed items, sometimes a later stage), so every
   request really writes. Every answer must be 201 "created" / 200 "updated" as
   expected, with the cart's new subtotal and stage.
5. Prints a Markdown table against the targets (at least 400 upserts/s on one sync
   worker, p95 under 20 ms), the worker's peak memory, and checks with SQL that
   incomplete_orders grew by exactly the "created" answers and that audit_events holds
   one event per created / updated request.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_ingest.py                         # SQLite, 100,000 orders
    .venv/bin/python bench/bench_ingest.py --orders 0 --requests 1000 --concurrency 1
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_ingest.py                     # fresh PostgreSQL db

gunicorn's sync worker closes the connection after every response, so http.client
reconnects (a new TCP connection on 127.0.0.1) for each request; the report says how
often that happened. Concurrency above 1 only queues requests in front of the one
worker: its p95 includes that wait, so only its throughput is held to a target.
Progress goes to stderr, the report to stdout. Exit code 0: targets met and the
checks passed; 1: a target missed, a request failed or a check failed; 2: the
benchmark could not run.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from bench_workspace import (  # noqa: E402
    PROJECT_ROOT,
    BenchError,
    app_env,
    child_pids,
    log,
    percentile,
    run_flask,
    seed_database,
    snippet,
    start_gunicorn,
    stop_gunicorn,
    wait_until_healthy,
    worker_peak_memory_mb,
)
from common import fresh_database  # noqa: E402

BENCH_DB_NAME = "reclaim_bench_ingest"
RATE_LIMIT = 100_000_000  # never trips, but the per-request counter upsert still runs
WARMUP = 200
NEW_CART_SHARE = 0.4
RECENT_CARTS = 1_000  # updates pick among the most recently touched idle carts
CART_PREFIX = "bench-"
TARGET_PER_SECOND = 400
TARGET_P95_MS = 20

STAFF_EMAIL = "bench-ingest@example.com"
STAFF_PASSWORD = "bench-password-1"
KEY_SNIPPET = f"""
from dashboard import create_app
from dashboard.api_keys.service import issue_key
from dashboard.audit.service import Actor
from dashboard.auth.service import create_staff
from dashboard.extensions import db

app = create_app()
with app.app_context():
    staff = create_staff({STAFF_EMAIL!r}, "manager", {STAFF_PASSWORD!r}, Actor.system("bench"))
    _, plaintext = issue_key("Bench storefront", Actor.staff(staff), staff)
    db.session.commit()
    print(plaintext)
"""

STAGES = ("cart", "checkout", "payment_pending", "payment_failed")
FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas")
LAST_NAMES = ("Mueller", "Schmidt", "Fischer", "Weber", "Wagner", "Kaya", "Novak", "Rossi")
DOMAINS = ("example.com", "mail.example", "post.example", "web.example")
PRODUCTS = [
    (f"{kind[:3].upper()}-{colour[:3].upper()}-{size}", f"{kind} — {colour} / {size}", price)
    for kind, price in (
        ("Merino crew sweater", 8900),
        ("Linen shirt", 5900),
        ("Chino trousers", 7400),
        ("Canvas sneakers", 6500),
        ("Rain jacket", 14900),
        ("Wool beanie", 2400),
        ("Cotton T-shirt", 1900),
        ("Denim jacket", 11900),
    )
    for colour in ("Navy", "Black", "Olive", "Sand")
    for size in ("S", "M", "L")
]


# --------------------------------------------------------------------------- arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders",
        type=int,
        default=100_000,
        help="incomplete orders to seed first (default 100,000; 0: none)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=5_000,
        help=f"timed requests per scenario, after {WARMUP} warm-ups (default 5,000)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 4],
        metavar="C",
        help="client connections (threads), one scenario per value (default: 1 4)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the benchmark database afterwards (prints its URL)",
    )
    args = parser.parse_args(argv)
    if args.orders < 0 or args.requests < 1 or min(args.concurrency) < 1:
        parser.error("--requests and --concurrency must be at least 1, --orders at least 0")
    return args


# --------------------------------------------------------------------------- database setup


def create_api_key(env):
    """A manager and an API key, made in the app context; returns the key's plaintext."""
    log("Creating a manager and an API key ...")
    result = subprocess.run(
        [sys.executable, "-c", KEY_SNIPPET],
        cwd=PROJECT_ROOT,
        env=env,
        text=True,
        capture_output=True,
    )
    keys = [line for line in result.stdout.splitlines() if line.startswith("rk_")]
    if result.returncode != 0 or not keys:
        raise BenchError(f"Could not create the API key:\n{result.stdout}{result.stderr}")
    return keys[-1]


@dataclass
class Counts:
    """What the database holds; the checks compare two of these."""

    incomplete_orders: int
    audit_by_action: dict  # action -> count of events made by API keys


def read_counts(engine):
    with engine.connect() as connection:
        orders = connection.execute(text("SELECT count(*) FROM incomplete_orders")).scalar()
        rows = connection.execute(
            text(
                "SELECT action, count(*) FROM audit_events "
                "WHERE actor_type = 'api_key' GROUP BY action"
            )
        )
        return Counts(orders, dict(rows.all()))


def read_bench_carts(engine):
    """Carts, item rows, item quantity and subtotal sums of the carts this run made."""
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                text(
                    "SELECT count(DISTINCT o.id), count(i.id), coalesce(sum(i.quantity), 0), "
                    "coalesce(sum(i.quantity * i.unit_price), 0) "
                    "FROM incomplete_orders o "
                    "LEFT JOIN incomplete_order_items i ON i.incomplete_order_id = o.id "
                    "WHERE o.cart_id LIKE :prefix"
                ),
                {"prefix": CART_PREFIX + "%"},
            ).one()
        )


# --------------------------------------------------------------------------- the workload


@dataclass
class Cart:
    """The client's view of one storefront cart: what it last sent."""

    cart_id: str
    customer_id: str | None
    guest_session: str | None
    email: str | None
    name: str | None
    phone: str | None
    stage: str
    items: list  # [sku, name, quantity, unit_price]
    snapshot_at: datetime

    @property
    def subtotal(self):
        return sum(quantity * price for _, _, quantity, price in self.items)

    def body(self):
        snapshot = {
            "snapshot_at": self.snapshot_at.isoformat(timespec="microseconds"),
            "stage": self.stage,
            "currency": "EUR",
            "customer_id": self.customer_id,
            "guest_session": self.guest_session,
            "email": self.email,
            "name": self.name,
            "phone": self.phone,
            "items": [
                {"sku": sku, "name": name, "quantity": quantity, "unit_price": price}
                for sku, name, quantity, price in self.items
            ],
        }
        return json.dumps({k: v for k, v in snapshot.items() if v is not None}).encode()


@dataclass
class Job:
    cart: Cart
    expected: str  # "created" or "updated"
    body: bytes


class CartPool:
    """Makes the next request: a new cart, or an update of an idle one made earlier.

    Thread-safe. A cart is busy while a request about it is in flight, so two updates of
    one cart never race (which would make one of them stale).
    """

    def __init__(self, seed=1):
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.idle = []
        self.made = 0

    def next_job(self):
        with self.lock:
            if self.idle and self.random.random() >= NEW_CART_SHARE:
                cart = self._take_recent_idle()
                self._change(cart)
                expected = "updated"
            else:
                cart = self._new_cart()
                expected = "created"
            return Job(cart, expected, cart.body())

    def finish(self, job, ok):
        """Back to the pool after a good answer; after a bad one its state is unknown."""
        if ok:
            with self.lock:
                self.idle.append(job.cart)

    def _take_recent_idle(self):
        index = self.random.randrange(max(0, len(self.idle) - RECENT_CARTS), len(self.idle))
        self.idle[index], self.idle[-1] = self.idle[-1], self.idle[index]
        return self.idle.pop()

    def _new_cart(self):
        rng = self.random
        self.made += 1
        registered = rng.random() < 0.4
        stage = rng.choices(STAGES, (60, 25, 10, 5))[0]
        cart = Cart(
            cart_id=f"{CART_PREFIX}{self.made:07d}",
            customer_id=f"C{rng.randrange(10000, 99999)}" if registered else None,
            guest_session=None if registered else f"{rng.getrandbits(64):016x}",
            email=None,
            name=None,
            phone=None,
            stage=stage,
            items=[
                [sku, name, rng.choices((1, 2, 3), (80, 15, 5))[0], price]
                for sku, name, price in rng.sample(
                    PRODUCTS, rng.choices((1, 2, 3, 4, 5, 6), (30, 28, 18, 12, 7, 5))[0]
                )
            ],
            snapshot_at=datetime.now(UTC),
        )
        if registered or stage != "cart" or rng.random() < 0.3:
            self._add_contact(cart)
        return cart

    def _add_contact(self, cart):
        rng = self.random
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        cart.email = f"{first}.{last}{rng.randrange(1, 9999)}@{rng.choice(DOMAINS)}".lower()
        cart.name = f"{first} {last}" if rng.random() < 0.9 else None

    def _change(self, cart):
        """A newer snapshot whose items always differ; sometimes the next stage too."""
        rng = self.random
        items = cart.items
        roll = rng.random()
        if roll < 0.35 and len(items) < 6:
            taken = {item[0] for item in items}
            sku, name, price = rng.choice([p for p in PRODUCTS if p[0] not in taken])
            items.append([sku, name, 1, price])
        elif roll < 0.55 and len(items) > 1:
            items.pop(rng.randrange(len(items)))
        else:
            item = rng.choice(items)
            item[2] = item[2] + 1 if item[2] < 3 else item[2] - 1
        if rng.random() < 0.3 and cart.stage != STAGES[-1]:
            cart.stage = STAGES[STAGES.index(cart.stage) + 1]
            if cart.email is None:  # checkout asks for an email address
                self._add_contact(cart)
            if cart.stage.startswith("payment") and cart.phone is None and rng.random() < 0.5:
                cart.phone = f"+49 1{rng.randrange(50, 79)} {rng.randrange(1000000, 9999999)}"
        cart.snapshot_at = max(datetime.now(UTC), cart.snapshot_at + timedelta(milliseconds=1))

    def expected_totals(self):
        """(carts, item rows, quantity sum, subtotal sum) the idle carts should hold."""
        with self.lock:
            return (
                len(self.idle),
                sum(len(c.items) for c in self.idle),
                sum(i[2] for c in self.idle for i in c.items),
                sum(c.subtotal for c in self.idle),
            )


# --------------------------------------------------------------------------- the client


class ApiClient:
    """One http.client connection with the key; reconnects when the server closed it."""

    def __init__(self, port, key):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.closed_by_server = 0

    def put(self, path, body):
        self.connection.request("PUT", path, body=body, headers=self.headers)
        raw = self.connection.getresponse()
        payload = raw.read()
        if raw.will_close:
            self.closed_by_server += 1
            self.connection.close()
        return raw.status, payload

    def close(self):
        self.connection.close()


def check_answer(job, status, payload):
    """The outcome the server reported (or None) and a failure message (or None)."""
    expected_status = 201 if job.expected == "created" else 200
    try:
        data = json.loads(payload)
    except ValueError:
        return None, f"{job.cart.cart_id}: {status}, not JSON: {snippet(payload.decode())}"
    outcome = data.get("outcome") if isinstance(data, dict) else None
    if status != expected_status or outcome != job.expected:
        return outcome, (
            f"{job.cart.cart_id}: expected {expected_status} {job.expected}, got {status} "
            f"{outcome}: {snippet(payload.decode())}"
        )
    order = data.get("incomplete_order") or {}
    held = (order.get("cart_id"), order.get("subtotal"), order.get("stage"))
    sent = (job.cart.cart_id, job.cart.subtotal, job.cart.stage)
    if held != sent:
        return outcome, f"{job.cart.cart_id}: sent {sent}, the answer holds {held}"
    return outcome, None


@dataclass
class PhaseResult:
    concurrency: int
    requests: int = 0
    seconds: float = 0.0
    timings_ms: list = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)  # as reported by the server
    failures: list = field(default_factory=list)
    reconnects: int = 0
    worker_cpu_seconds: float = 0.0  # user + system time of the gunicorn worker

    @property
    def per_second(self):
        return self.requests / self.seconds

    @property
    def p50(self):
        return statistics.median(self.timings_ms)

    @property
    def p95(self):
        return percentile(self.timings_ms, 95)

    @property
    def max(self):
        return max(self.timings_ms)

    @property
    def ok(self):
        fast = self.per_second >= TARGET_PER_SECOND
        if self.concurrency == 1:
            fast = fast and self.p95 < TARGET_P95_MS
        return fast and not self.failures


def worker_cpu_seconds(server):
    """CPU time (user + system) the gunicorn worker has used so far, from /proc."""
    total = 0.0
    for pid in child_pids(server.process.pid):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_phase(server, key, pool, requests, concurrency):
    """Send `requests` PUTs over `concurrency` connections; one thread per connection."""
    port = server.port
    result = PhaseResult(concurrency, requests)
    lock = threading.Lock()
    remaining = [requests]

    def client_loop():
        client = ApiClient(port, key)
        try:
            while True:
                with lock:
                    if remaining[0] == 0:
                        break
                    remaining[0] -= 1
                job = pool.next_job()
                path = f"/api/v1/incomplete-orders/{job.cart.cart_id}"
                started = time.perf_counter()
                try:
                    status, payload = client.put(path, job.body)
                except (OSError, http.client.HTTPException) as error:
                    client.close()
                    status, payload = None, f'"{type(error).__name__}: {error}"'.encode()
                elapsed_ms = (time.perf_counter() - started) * 1000
                outcome, failure = check_answer(job, status, payload)
                pool.finish(job, failure is None)
                with lock:
                    result.timings_ms.append(elapsed_ms)
                    result.outcomes[outcome] += 1
                    if failure:
                        result.failures.append(failure)
        finally:
            client.close()
            with lock:
                result.reconnects += client.closed_by_server

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    cpu_before = worker_cpu_seconds(server)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    result.worker_cpu_seconds = worker_cpu_seconds(server) - cpu_before
    return result


def run_scenario(server, key, pool, requests, concurrency):
    """Warm up, then the timed phase; returns (warm-up result, timed result)."""
    log(f"Concurrency {concurrency}: {WARMUP} warm-ups, then {requests:,} timed requests ...")
    warmup = run_phase(server, key, pool, WARMUP, concurrency)
    timed = run_phase(server, key, pool, requests, concurrency)
    log(
        f"  {timed.per_second:7.1f} req/s   p50 {timed.p50:6.2f} ms   p95 {timed.p95:6.2f} ms"
        f"   failures {len(warmup.failures) + len(timed.failures)}"
    )
    return warmup, timed


# --------------------------------------------------------------------------- checks and report


def verify(before, after, phases, expected_carts, bench_carts):
    """Lines saying what the database holds against what the server answered."""
    created = sum(p.outcomes["created"] for p in phases)
    updated = sum(p.outcomes["updated"] for p in phases)
    requests = sum(p.requests for p in phases)
    failures = sum(len(p.failures) for p in phases)
    grew = after.incomplete_orders - before.incomplete_orders
    audit = {
        action: after.audit_by_action.get(action, 0) - before.audit_by_action.get(action, 0)
        for action in set(after.audit_by_action) | set(before.audit_by_action)
    }
    audit_create = audit.pop("incomplete_order.create", 0)
    audit_update = audit.pop("incomplete_order.update", 0)
    others = {action: n for action, n in audit.items() if n}

    def line(ok, text):
        return ok, f"- {text}: {'ok' if ok else 'MISMATCH'}"

    lines = [
        (
            failures == 0,
            f"- {requests:,} requests in all (warm-ups included): {created:,} created, "
            f"{updated:,} updated, {failures} failed",
        ),
        line(
            grew == created,
            f"incomplete_orders grew by {grew:,}; the server answered “created” {created:,} times",
        ),
        line(
            audit_create == created and audit_update == updated and not others,
            f"audit_events by the API key: {audit_create:,} incomplete_order.create "
            f"(created {created:,}), {audit_update:,} incomplete_order.update "
            f"(updated {updated:,}), other actions {others or 'none'}",
        ),
    ]
    if failures:
        lines.append((False, "- final cart contents not compared: some requests failed"))
    else:
        lines.append(
            line(
                bench_carts == expected_carts,
                "the run's carts hold the client's last snapshots — carts, item rows, "
                f"quantities, subtotal sum: {', '.join(f'{n:,}' for n in bench_carts)} "
                f"(expected {', '.join(f'{n:,}' for n in expected_carts)})",
            )
        )
    return lines


def target_text(concurrency):
    if concurrency == 1:
        return f"≥ {TARGET_PER_SECOND}/s, p95 < {TARGET_P95_MS} ms"
    return f"≥ {TARGET_PER_SECOND}/s (p95 includes queueing for the 1 worker)"


def print_report(database, seeded, before, results, memory_mb, checks):
    print()
    print(
        f"Database: {database.kind}  ·  seeded orders: {seeded}  ·  incomplete orders "
        f"before the run: {before.incomplete_orders:,}  ·  gunicorn: 1 sync worker  ·  "
        f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print()
    print("| scenario | requests | requests/s | p50 ms | p95 ms | max ms | target | ok? |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in results:
        name = f"PUT cart snapshot, {r.concurrency} connection{'s' if r.concurrency > 1 else ''}"
        print(
            f"| {name} | {r.requests:,} | {r.per_second:.0f} | {r.p50:.2f} | {r.p95:.2f} "
            f"| {r.max:.1f} | {target_text(r.concurrency)} | {'yes' if r.ok else 'NO'} |"
        )
    print()
    for r in results:
        mix = ", ".join(f"{n:,} {o}" for o, n in sorted(r.outcomes.items(), key=str))
        print(
            f"- {r.concurrency} connection(s): {mix}; {len(r.failures)} failed; the server "
            f"closed the connection after {r.reconnects:,} of {r.requests:,} responses; "
            f"worker CPU {r.worker_cpu_seconds / r.requests * 1000:.2f} ms per request "
            f"(wall {r.seconds / r.requests * 1000:.2f} ms)"
        )
    print(f"- worker peak memory (VmHWM): {memory_mb:.1f} MB")
    print()
    print("Checks (SQL, after the run):")
    for _, text_line in checks:
        print(text_line)
    failures = [f for r in results for f in r.failures]
    if failures:
        print()
        print(f"First failures ({len(failures)} in the timed phases):")
        for failure in failures[:5]:
            print(f"- {failure}")


def main(argv=None):
    args = parse_args(argv)
    log_dir = tempfile.mkdtemp(prefix="reclaim-bench-ingest-log-")
    database = server = engine = None
    try:
        database = fresh_database(BENCH_DB_NAME)
        env = app_env(database.url)
        env["API_RATE_LIMIT_PER_MINUTE"] = str(RATE_LIMIT)
        if args.orders:
            seed_seconds = seed_database(env, args.orders)
            seeded = f"{args.orders:,} (seed-demo {seed_seconds:.1f} s)"
        else:
            run_flask(env, "db", "upgrade")
            seeded = "none"
        key = create_api_key(env)

        engine = create_engine(database.url)
        before = read_counts(engine)
        server = start_gunicorn(env, log_dir)
        wait_until_healthy(server)

        pool = CartPool()
        phases, results = [], []
        for concurrency in args.concurrency:
            warmup, timed = run_scenario(server, key, pool, args.requests, concurrency)
            phases += [warmup, timed]
            results.append(timed)
        memory_mb = worker_peak_memory_mb(server)
        stop_gunicorn(server)
        if any(p.failures for p in phases):
            log(f"--- gunicorn log (last lines) ---\n{server.log_tail()}")

        checks = verify(
            before, read_counts(engine), phases, pool.expected_totals(), read_bench_carts(engine)
        )
        print_report(database, seeded, before, results, memory_mb, checks)
        return 0 if all(r.ok for r in results) and all(ok for ok, _ in checks) else 1
    except BenchError as error:
        log(f"\nBENCHMARK FAILED: {error}")
        if server is not None:
            log(f"--- gunicorn log (last lines) ---\n{server.log_tail()}")
        return 2
    finally:
        if server is not None:
            stop_gunicorn(server)
        if engine is not None:
            engine.dispose()
        shutil.rmtree(log_dir, ignore_errors=True)
        if database is not None:
            database.cleanup(args.keep)


if __name__ == "__main__":
    sys.exit(main())
