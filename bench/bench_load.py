"""Benchmark the staff pages while many people use the app at once.

A fresh database (SQLite temp file, or ``reclaim_bench_load`` on the PostgreSQL server that
DATABASE_URL names) seeded with ``flask seed-demo --orders N --seed 1``, one staff account
per client and an API key; gunicorn as the README's production command starts it (4
threaded workers, gunicorn.conf.py) on 127.0.0.1. First each staff route is timed alone
(one client, one request at a time); then --staff-clients staff clients, each signed in
with its own account, browse those routes in a loop (a random route, then a pause to read
it) while one storefront client PUTs cart snapshots without pause, for --seconds. The
report gives each route's p50/p95 alone and under load, their ratio against the target
(p95 under load within 3x its p95 alone) and the errors, then the storefront's rate.

Usage (from the project root, with the project's venv):

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_load.py                 # 200,000 carts, two minutes
    DATABASE_URL=... .venv/bin/python bench/bench_load.py --orders 1000000
    .venv/bin/python bench/bench_load.py --orders 2000 --seconds 10    # quick, SQLite
    .venv/bin/python bench/bench_load.py --database-url URL  # reuse a --keep run's
"""

import argparse
import http.client
import multiprocessing
import os
import queue
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from bench_ingest import CartPool, check_answer
from common import (
    WARMUP,
    BenchError,
    Client,
    Gunicorn,
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
    settle,
    snippet,
    yes_no,
)
from sqlalchemy import create_engine, text

BENCH_DB_NAME = "reclaim_bench_load"
STAFF_PASSWORD = "bench-password-1"
RATE_LIMIT = 100_000_000  # the API limiter never trips, but its upsert still runs
RATIO_TARGET = 3.0  # a route's p95 under load at most this times its p95 alone
PICKS = 200  # search fragments and ids to choose from


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders", type=int, default=200_000, help="orders seed-demo makes (default 200,000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=120, help="how long the load runs (default 120)"
    )
    parser.add_argument(
        "--staff-clients", type=int, default=10, help="staff clients browsing (default 10)"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="a staff client's mean pause between pages, seconds (default 1.0; 0: none)",
    )
    parser.add_argument(
        "--repeat", type=int, default=20, help="timed requests per route alone (default 20)"
    )
    parser.add_argument(
        "--prefill",
        type=int,
        default=12_000,
        help="cart snapshots the storefront sends before any timing (default 12,000), so "
        "the pages timed alone hold what they hold under load",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument(
        "--database-url", help="reuse this database (from --keep) instead of seeding one"
    )
    parser.add_argument(
        "--database-name", default=BENCH_DB_NAME, help=f"PostgreSQL database ({BENCH_DB_NAME})"
    )
    args = parser.parse_args(argv)
    if min(args.orders, args.staff_clients, args.workers, args.repeat) < 1 or args.seconds <= 0:
        parser.error("--orders, --staff-clients, --workers, --repeat, --seconds must be positive")
    if args.think < 0 or args.prefill < 0:
        parser.error("--think and --prefill cannot be negative")
    return args


# --------------------------------------------------------------------------- the routes


class Picks:
    """What the seeded database holds to ask for: email fragments, cart and return ids."""

    def __init__(self, url):
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                self.emails = self._spread(connection, "incomplete_orders", "email")
                self.carts = self._spread(connection, "incomplete_orders", "id")
                self.returns = self._spread(connection, "return_requests", "id")
        finally:
            engine.dispose()
        self.fragments = [e.split("@", 1)[0][1:] for e in self.emails if len(e.split("@")[0]) > 5]
        if not (self.fragments and self.carts and self.returns):
            raise BenchError("The seeded database has no carts with emails or no return requests")

    @staticmethod
    def _spread(connection, table, column):
        """Up to PICKS values of `column`, spread over the table by id."""
        count = connection.execute(
            text(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")
        ).scalar()
        step = max(1, count // PICKS)
        return list(
            connection.execute(
                text(
                    f"SELECT {column} FROM (SELECT {column}, row_number() OVER (ORDER BY id) AS n "
                    f"FROM {table} WHERE {column} IS NOT NULL) numbered "
                    "WHERE n % :step = 0 LIMIT :picks"
                ),
                {"step": step, "picks": PICKS},
            ).scalars()
        )


@dataclass(frozen=True)
class Route:
    name: str
    paths: object  # a function of a random.Random: the next path to ask for


def routes(picks):
    thirty_days_ago = (datetime.now().date() - timedelta(days=30)).isoformat()

    def fixed(path):
        return lambda rng: path

    return [
        Route("overview", fixed("/")),
        Route("incomplete orders, default", fixed("/incomplete-orders/")),
        Route(
            "incomplete orders, open last 30 days",
            fixed(f"/incomplete-orders/?status=open&active_from={thirty_days_ago}"),
        ),
        Route(
            "incomplete orders, search",
            lambda rng: "/incomplete-orders/?" + urlencode({"q": rng.choice(picks.fragments)}),
        ),
        Route("cart detail", lambda rng: f"/incomplete-orders/{rng.choice(picks.carts)}"),
        Route("returns list", fixed("/returns/")),
        Route("return detail", lambda rng: f"/returns/{rng.choice(picks.returns)}"),
        Route("orders list", fixed("/orders/")),
        Route("outbox", fixed("/outbox/")),
        Route("audit", fixed("/audit/")),
        Route("analytics", fixed("/analytics/")),
    ]


# --------------------------------------------------------------------------- measuring


@dataclass
class RouteResult:
    route: str
    alone: Timings = field(default_factory=Timings)
    loaded: Timings = field(default_factory=Timings)
    errors: list = field(default_factory=list)

    @property
    def ratio(self):
        return self.loaded.p95 / self.alone.p95 if self.loaded.ms else None

    @property
    def ok(self):
        return bool(self.loaded.ms) and self.ratio <= RATIO_TARGET and not self.errors


@dataclass
class Storefront:
    timings: Timings = field(default_factory=Timings)
    errors: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def per_second(self):
        return len(self.timings.ms) / self.seconds if self.seconds else 0.0


def get(client, path):
    """(status, error or None) of one GET; a broken connection is an error, then a new one."""
    try:
        answer = client.get(path)
    except (OSError, http.client.HTTPException) as error:
        client.close()
        return None, f"GET {path}: {type(error).__name__}: {error}"
    if answer.status != 200:
        return answer.status, f"GET {path}: {answer.status} {snippet(answer.text, 200)}"
    return answer.status, None


def time_alone(client, route_list, results, repeat, rng):
    """Each route on its own: WARMUP untimed requests, then `repeat` timed ones."""
    for route in route_list:
        result = results[route.name]
        for index in range(WARMUP + repeat):
            started = time.perf_counter()
            _, error = get(client, route.paths(rng))
            if index >= WARMUP:
                result.alone.add(started)
            if error:
                result.errors.append(f"alone: {error}")
        log(
            f"  {route.name:<38} alone   p50 {result.alone.p50:7.1f} ms   "
            f"p95 {result.alone.p95:7.1f} ms"
        )


def browse(client, route_list, results, lock, stop, think, seed):
    """One staff member: a random route, then a pause of about `think` seconds."""
    rng = random.Random(seed)
    while not stop.is_set():
        route = rng.choice(route_list)
        started = time.perf_counter()
        _, error = get(client, route.paths(rng))
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            results[route.name].loaded.ms.append(elapsed)
            if error:
                results[route.name].errors.append(f"under load: {error}")
        if think:
            stop.wait(rng.uniform(0.5 * think, 1.5 * think))


def storefront(port, key, outcome, stop, limit=None):
    """The shop's server: cart snapshots, one after another, until `stop` (or `limit`)."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    # Cart ids of this run's own: a reused database (--database-url) holds the last run's.
    pool = CartPool(seed=2, prefix=f"load-{time.time_ns():x}-")
    client = Client(port, headers=headers, timeout=120)
    began = time.perf_counter()
    try:
        while not stop.is_set() and (limit is None or len(outcome.timings.ms) < limit):
            job = pool.next_job()
            path = f"/api/v1/incomplete-orders/{job.cart.cart_id}"
            started = time.perf_counter()
            try:
                answer = client.request("PUT", path, body=job.body)
                status, payload = answer.status, answer.body
            except (OSError, http.client.HTTPException) as error:
                client.close()
                status, payload = None, f'"{type(error).__name__}: {error}"'.encode()
            outcome.timings.add(started)
            _, failure = check_answer(job, status, payload)
            pool.finish(job, failure is None)
            if failure:
                outcome.errors.append(failure)
    finally:
        outcome.seconds = time.perf_counter() - began
        client.close()


def storefront_process(port, key, stop, answers):
    """`storefront()` in a process of its own, its outcome sent back through `answers`:
    a client that never pauses would otherwise hold this process's GIL, and the staff
    clients' timings would include their wait for it, which is no wait of the app's."""
    outcome = Storefront()
    try:
        storefront(port, key, outcome, stop)
    finally:
        answers.put((outcome.timings.ms, outcome.errors, outcome.seconds))


def run_load(port, key, clients, route_list, results, args):
    lock, stop = threading.Lock(), threading.Event()
    processes = multiprocessing.get_context("spawn")
    shop_stop, answers = processes.Event(), processes.Queue()
    shop_process = processes.Process(
        target=storefront_process, args=(port, key, shop_stop, answers)
    )
    threads = [
        threading.Thread(
            target=browse, args=(client, route_list, results, lock, stop, args.think, i)
        )
        for i, client in enumerate(clients)
    ]
    log(
        f"Under load: {len(clients)} staff clients (pause ~{args.think:g} s) and one "
        f"storefront client (a process of its own) for {args.seconds:g} s ..."
    )
    shop_process.start()
    for thread in threads:
        thread.start()
    stop.wait(args.seconds)
    stop.set()
    shop_stop.set()
    for thread in threads:
        thread.join()
    try:
        ms, errors, seconds = answers.get(timeout=120)
    except queue.Empty:
        raise BenchError("The storefront client's process sent no outcome") from None
    finally:
        shop_process.join(timeout=30)
    return Storefront(Timings(ms), errors, seconds)


# --------------------------------------------------------------------------- report


def print_report(database, args, counts, results, shop, load_during):
    print()
    print(
        f"Database: {database.kind}  ·  incomplete orders: {counts['incomplete_orders']:,}  ·  "
        f"return requests: {counts['return_requests']:,}  ·  gunicorn: {args.workers} "
        f"threaded workers  ·  {machine()}"
    )
    print(
        f"Load: {args.staff_clients} staff clients (a pause of ~{args.think:g} s between "
        f"pages) and one storefront client, {args.seconds:g} s; load average at its end: "
        f"{load_during}"
    )
    print()
    rows = []
    for r in results:
        loaded = bool(r.loaded.ms)
        rows.append(
            [
                r.route,
                f"{r.alone.p50:.1f}",
                f"{r.alone.p95:.1f}",
                len(r.loaded.ms),
                f"{r.loaded.p50:.1f}" if loaded else "",
                f"{r.loaded.p95:.1f}" if loaded else "",
                f"{r.ratio:.2f}" if loaded else "",
                f"≤ {RATIO_TARGET:g}×",
                len(r.errors),
                yes_no(r.ok),
            ]
        )
    print_table(
        [
            "route",
            "alone p50 ms",
            "alone p95 ms",
            "requests under load",
            "load p50 ms",
            "load p95 ms",
            "p95 ratio",
            "target",
            "errors",
            "ok?",
        ],
        rows,
    )
    print()
    requests = len(shop.timings.ms)
    print(
        f"Storefront: {requests:,} cart snapshots in {shop.seconds:.1f} s, "
        f"{shop.per_second:.0f} requests/s"
        + (f", p50 {shop.timings.p50:.1f} ms, p95 {shop.timings.p95:.1f} ms" if requests else "")
        + f", errors: {len(shop.errors)}"
    )
    for r in results:
        for error in r.errors[:3]:
            print(f"- {r.route}: {error}")
    for error in shop.errors[:3]:
        print(f"- storefront: {error}")
    return all(r.ok for r in results) and not shop.errors and requests > 0


def read_counts(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("incomplete_orders", "return_requests")
            }
    finally:
        engine.dispose()


def benchmark(args, cleanup):
    database = fresh_database(
        args.database_name, cleanup, keep=args.keep, reuse_url=args.database_url
    )
    env = app_environment(database.url, API_RATE_LIMIT_PER_MINUTE=RATE_LIMIT)
    app = in_process_app(background_checkpoints=False)
    if database.reused:
        migrate(app)
    else:
        seed_demo(app, args.orders)
    staff = [f"bench-load-{i}@example.com" for i in range(args.staff_clients + 1)]
    log(f"Creating {len(staff)} staff accounts ...")
    for email in staff:
        create_staff(app, email, STAFF_PASSWORD, check=not database.reused)
    key = issue_api_key(app, "Bench load storefront", staff[0])
    dispose(app)
    settle(database.url)

    counts = read_counts(database.url)
    picks = Picks(database.url)
    route_list = routes(picks)
    results = {route.name: RouteResult(route.name) for route in route_list}

    server = cleanup.enter_context(Gunicorn(env, workers=args.workers, worker_class=None))
    clients = []
    for email in staff:
        client = Client(server.port, timeout=120)
        cleanup.callback(client.close)
        client.sign_in(email, STAFF_PASSWORD)
        clients.append(client)

    if args.prefill:
        # A seeded shop's audit log is almost empty, and the storefront adds ~200 events a
        # second under load: timed alone first, the audit page would show 14 rows, under
        # load a full page and its bounded count.
        log(f"The storefront sends {args.prefill:,} cart snapshots first ...")
        prefill = Storefront()
        storefront(server.port, key, prefill, threading.Event(), limit=args.prefill)
        if prefill.errors:
            raise BenchError(f"The storefront's first snapshots failed: {prefill.errors[0]}")
        settle(database.url)
    log("Each route alone:")
    time_alone(clients[-1], route_list, results, args.repeat, random.Random(1))
    shop = run_load(server.port, key, clients[: args.staff_clients], route_list, results, args)
    load_during = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    ordered = [results[route.name] for route in route_list]
    for r in ordered:
        if r.loaded.ms:
            log(
                f"  {r.route:<38} loaded  p50 {r.loaded.p50:7.1f} ms   "
                f"p95 {r.loaded.p95:7.1f} ms   ({len(r.loaded.ms)} requests)"
            )
    return 0 if print_report(database, args, counts, ordered, shop, load_during) else 1


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
