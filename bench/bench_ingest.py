"""Benchmark the storefront's cart-snapshot upsert, PUT /api/v1/incomplete-orders/<cart_id>.

A fresh database (SQLite temp file, or ``reclaim_bench_ingest`` on the PostgreSQL server
that DATABASE_URL names, dropped at the end), seeded with ``flask seed-demo --orders N``
so the tables and their indexes are not empty, a manager and an API key; one sync
gunicorn worker on 127.0.0.1 with ``API_RATE_LIMIT_PER_MINUTE=100000000`` (the limiter
never trips, but its upsert still runs on every request).

For each concurrency (default 1, then 4): --warmup untimed requests, then --requests
timed ones, each client thread on its own connection. About 40% create a new cart, 60%
update a cart created earlier in the run (newer snapshot_at, changed items, sometimes a
later stage), so every request writes. Every answer must be 201 "created" / 200
"updated" as expected, with the cart's new subtotal and stage; afterwards SQL checks that
incomplete_orders grew by the "created" answers, that audit_events holds one event per
answer, and that the run's carts hold the client's last snapshots.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_ingest.py                         # SQLite, 100,000 orders
    .venv/bin/python bench/bench_ingest.py --orders 0 --requests 1000 --concurrency 1
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_ingest.py                     # fresh PostgreSQL db

Concurrency above 1 only queues requests in front of the one worker: its p95 includes
that wait, so only its throughput is held to a target.
"""

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from common import (
    Client,
    Gunicorn,
    MachineCpu,
    Timings,
    app_environment,
    create_staff,
    dispose,
    fresh_database,
    in_process_app,
    issue_api_key,
    log,
    machine,
    migrate,
    print_table,
    run,
    seed_demo,
    snippet,
    yes_no,
)
from sqlalchemy import create_engine, text

BENCH_DB_NAME = "reclaim_bench_ingest"
RATE_LIMIT = 100_000_000  # never trips, but the per-request counter upsert still runs
WARMUP = 200
NEW_CART_SHARE = 0.4
RECENT_CARTS = 1_000  # updates pick among the most recently touched idle carts
CART_PREFIX = "bench-"
# The hardening issue's targets on one sync worker.
TARGET_PER_SECOND = {"SQLite": 400, "PostgreSQL": 250}
TARGET_P95_MS = 20

STAFF_EMAIL = "bench-ingest@example.com"
STAFF_PASSWORD = "bench-password-1"
# A new cart's first snapshot is mostly still a cart; the checkout asks for an email.
STAGES = ("cart", "checkout", "payment_pending", "payment_failed")
FIRST_STAGE_WEIGHTS = (60, 25, 10, 5)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders",
        type=int,
        default=100_000,
        help="incomplete orders to seed first (default 100,000; 0: none)",
    )
    parser.add_argument(
        "--requests", type=int, default=5_000, help="timed requests per scenario (5,000)"
    )
    parser.add_argument(
        "--warmup", type=int, default=WARMUP, help=f"untimed requests first ({WARMUP})"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 4],
        metavar="C",
        help="client connections (threads), one scenario per value (default: 1 4)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    args = parser.parse_args(argv)
    if args.orders < 0 or args.warmup < 0 or args.requests < 1 or min(args.concurrency) < 1:
        parser.error("--requests and --concurrency must be at least 1, the others at least 0")
    return args


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
    """Makes the next request: a new cart, or an update of an idle one made earlier. Names,
    email domains and products are the demo data's (dashboard.demo.generator).

    Thread-safe. A cart is busy while a request about it is in flight, so two updates of
    one cart never race (which would make one of them stale).
    """

    def __init__(self, seed=1, prefix=CART_PREFIX):
        from dashboard.demo import generator

        self.prefix = prefix  # of the cart ids it makes: a reused database has the last run's
        self.vocabulary = generator
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
        stage = rng.choices(STAGES, FIRST_STAGE_WEIGHTS)[0]
        cart = Cart(
            cart_id=f"{self.prefix}{self.made:07d}",
            customer_id=f"C{rng.randrange(10000, 99999)}" if registered else None,
            guest_session=None if registered else f"{rng.getrandbits(64):016x}",
            email=None,
            name=None,
            phone=None,
            stage=stage,
            items=[
                [sku, name, rng.choices((1, 2, 3), (80, 15, 5))[0], price]
                for sku, name, price in rng.sample(
                    self.vocabulary.PRODUCTS,
                    rng.choices((1, 2, 3, 4, 5, 6), (30, 28, 18, 12, 7, 5))[0],
                )
            ],
            snapshot_at=datetime.now(UTC),
        )
        if registered or stage != "cart" or rng.random() < 0.3:
            self._add_contact(cart)
        return cart

    def _add_contact(self, cart):
        rng, words = self.random, self.vocabulary
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        cart.email = f"{first}.{last}{rng.randrange(1, 9999)}@{rng.choice(words.DOMAINS)}".lower()
        cart.name = f"{first} {last}" if rng.random() < 0.9 else None

    def _change(self, cart):
        """A newer snapshot whose items always differ; sometimes the next stage too."""
        rng = self.random
        items = cart.items
        roll = rng.random()
        if roll < 0.35 and len(items) < 6:
            taken = {item[0] for item in items}
            products = [p for p in self.vocabulary.PRODUCTS if p[0] not in taken]
            sku, name, price = rng.choice(products)
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


# --------------------------------------------------------------------------- phases


@dataclass
class Phase:
    concurrency: int
    requests: int
    seconds: float = 0.0
    timings: Timings = field(default_factory=Timings)
    outcomes: Counter = field(default_factory=Counter)  # as reported by the server
    failures: list = field(default_factory=list)
    reconnects: int = 0
    worker_cpu_seconds: float = 0.0  # user + system time of the gunicorn worker
    machine: str = ""  # what the machine's CPUs did meanwhile

    @property
    def per_second(self):
        return self.requests / self.seconds

    def meets(self, per_second):
        fast = self.per_second >= per_second
        if self.concurrency == 1:
            fast = fast and self.timings.p95 < TARGET_P95_MS
        return fast and not self.failures


def run_phase(server, key, pool, requests, concurrency):
    """Send `requests` PUTs over `concurrency` connections; one thread per connection."""
    phase = Phase(concurrency, requests)
    lock = threading.Lock()
    remaining = [requests]
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }

    def client_loop():
        client = Client(server.port, headers=headers, timeout=120)
        try:
            while True:
                with lock:
                    if remaining[0] == 0:
                        break
                    remaining[0] -= 1
                job = pool.next_job()
                started = time.perf_counter()
                try:
                    answer = client.request(
                        "PUT", f"/api/v1/incomplete-orders/{job.cart.cart_id}", body=job.body
                    )
                    status, payload = answer.status, answer.body
                except (OSError, http.client.HTTPException) as error:
                    client.close()
                    status, payload = None, f'"{type(error).__name__}: {error}"'.encode()
                elapsed = time.perf_counter() - started
                outcome, failure = check_answer(job, status, payload)
                pool.finish(job, failure is None)
                with lock:
                    phase.timings.ms.append(elapsed * 1000)
                    phase.outcomes[outcome] += 1
                    if failure:
                        phase.failures.append(failure)
        finally:
            client.close()
            with lock:
                phase.reconnects += client.closed_by_server

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    cpu_before = server.worker_cpu_seconds()
    machine_cpu = MachineCpu()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - started
    phase.worker_cpu_seconds = server.worker_cpu_seconds() - cpu_before
    phase.machine = machine_cpu.text()
    return phase


def run_scenario(server, key, pool, requests, warmup, concurrency):
    """Warm up, then the timed phase; returns (warm-up phase or None, timed phase)."""
    log(f"Concurrency {concurrency}: {warmup} warm-ups, then {requests:,} timed requests ...")
    warm = run_phase(server, key, pool, warmup, concurrency) if warmup else None
    timed = run_phase(server, key, pool, requests, concurrency)
    failures = len(timed.failures) + (len(warm.failures) if warm else 0)
    log(
        f"  {timed.per_second:7.1f} req/s   p50 {timed.timings.p50:6.2f} ms   "
        f"p95 {timed.timings.p95:6.2f} ms   failures {failures}"
    )
    return warm, timed


# --------------------------------------------------------------------------- checks and report


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


def verify(before, after, phases, expected_carts, bench_carts):
    """(ok, line) pairs: what the database holds against what the server answered."""
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


def target_text(concurrency, per_second):
    if concurrency == 1:
        return f"≥ {per_second}/s, p95 < {TARGET_P95_MS} ms"
    return f"≥ {per_second}/s (p95 includes queueing for the 1 worker)"


def print_report(database, seeded, before, results, memory_mb, checks, target):
    print()
    print(
        f"Database: {database.kind}  ·  seeded orders: {seeded}  ·  incomplete orders "
        f"before the run: {before.incomplete_orders:,}  ·  gunicorn: 1 sync worker  ·  "
        f"at the end: {machine()}"
    )
    print()
    rows = []
    for r in results:
        name = f"PUT cart snapshot, {r.concurrency} connection{'s' if r.concurrency > 1 else ''}"
        t = r.timings
        rows.append(
            [
                name,
                f"{r.requests:,}",
                f"{r.per_second:.0f}",
                f"{t.p50:.2f}",
                f"{t.p95:.2f}",
                f"{t.max:.1f}",
                target_text(r.concurrency, target),
                yes_no(r.meets(target)),
            ]
        )
    header = ["scenario", "requests", "requests/s", "p50 ms", "p95 ms", "max ms", "target", "ok?"]
    print_table(header, rows)
    print()
    for r in results:
        mix = ", ".join(f"{n:,} {o}" for o, n in sorted(r.outcomes.items(), key=str))
        print(
            f"- {r.concurrency} connection(s): {mix}; {len(r.failures)} failed; the server "
            f"closed the connection after {r.reconnects:,} of {r.requests:,} responses; "
            f"worker CPU {r.worker_cpu_seconds / r.requests * 1000:.2f} ms per request "
            f"(wall {r.seconds / r.requests * 1000:.2f} ms); {r.machine}"
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


def prepare(app, orders):
    """Migrate and seed, a manager and an API key; (seeded, key plaintext)."""
    if orders:
        seeded = f"{orders:,} (seed-demo {seed_demo(app, orders):.1f} s)"
    else:
        migrate(app)
        seeded = "none"
    create_staff(app, STAFF_EMAIL, STAFF_PASSWORD)
    return seeded, issue_api_key(app, "Bench storefront", STAFF_EMAIL)


def benchmark(args, cleanup):
    database = fresh_database(BENCH_DB_NAME, cleanup, keep=args.keep)
    env = app_environment(database.url, API_RATE_LIMIT_PER_MINUTE=RATE_LIMIT)
    app = in_process_app(background_checkpoints=False)
    seeded, key = prepare(app, args.orders)
    dispose(app)

    engine = create_engine(database.url)
    cleanup.callback(engine.dispose)
    before = read_counts(engine)
    pool = CartPool()
    phases, results = [], []
    with Gunicorn(env) as server:
        for concurrency in args.concurrency:
            warm, timed = run_scenario(server, key, pool, args.requests, args.warmup, concurrency)
            phases += [p for p in (warm, timed) if p]
            results.append(timed)
        memory_mb = server.worker_peak_memory_mb()
        if any(p.failures for p in phases):
            log(f"--- gunicorn log (last lines) ---\n{server.log_tail()}")

    checks = verify(
        before, read_counts(engine), phases, pool.expected_totals(), read_bench_carts(engine)
    )
    target = TARGET_PER_SECOND[database.kind]
    print_report(database, seeded, before, results, memory_mb, checks, target)
    return 0 if all(r.meets(target) for r in results) and all(ok for ok, _ in checks) else 1


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
