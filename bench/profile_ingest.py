"""Where the time of one cart-snapshot upsert goes, measured in-process.

Makes a fresh database the way bench_ingest.py does (SQLite temp file, or a fresh
``reclaim_bench_ingest`` database when DATABASE_URL is a ``postgresql+psycopg://`` URL),
seeds it, creates an API key, then drives the app in this process through
``app.test_client()`` with the same request mix as bench_ingest.py (no gunicorn, no
sockets). Three passes of --requests PUTs after a warm-up:

1. Plain: the average wall time of a PUT, nothing attached.
2. cProfile: own time grouped by library, and the top functions.
3. Timers: the request's parts wrapped in timers (patched in from this process; the
   app's code is not changed), every SQL statement timed with SQLAlchemy's cursor
   events and attributed to the part that ran it, COMMIT, ROLLBACK and the pool's
   pre-ping timed at the dialect.

Usage (from the project root):

    .venv/bin/python bench/profile_ingest.py                 # SQLite, 100,000 orders
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_ingest.py --requests 2000
"""

import argparse
import cProfile
import functools
import io
import os
import pstats
import re
import sys
import time
from collections import Counter, defaultdict

from bench_ingest import (
    BENCH_DB_NAME,
    RATE_LIMIT,
    WARMUP,
    CartPool,
    check_answer,
    create_api_key,
)
from bench_workspace import PROJECT_ROOT, BenchError, app_env, log, run_flask, seed_database
from common import fresh_database


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to seed (100,000)")
    parser.add_argument("--requests", type=int, default=3_000, help="PUTs per pass (3,000)")
    parser.add_argument("--top", type=int, default=25, help="functions in the cProfile list")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- instrumentation


class Timers:
    """Inclusive wall time per request part, and SQL per part (the innermost one running)."""

    def __init__(self):
        self.stack = []
        self.part_seconds = defaultdict(float)
        self.sql = defaultdict(lambda: [0, 0.0])  # (part, statement) -> [count, seconds]

    def wrap(self, name, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            self.stack.append(name)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.part_seconds[" > ".join(self.stack)] += time.perf_counter() - started
                self.stack.pop()

        return timed

    def add_sql(self, statement, seconds):
        entry = self.sql[(" > ".join(self.stack) or "(outside)", statement)]
        entry[0] += 1
        entry[1] += seconds


@functools.cache
def short_sql(statement):
    statement = re.sub(r"\s+", " ", statement).strip()
    statement = re.sub(r"\(([^()]*,){6,}[^()]*\)", "(…)", statement)  # long column lists
    return statement[:110] + ("…" if len(statement) > 110 else "")


def instrument(app, timers):
    """Patch timers around the parts of a PUT; returns nothing, changes only this process."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from dashboard.api import views
    from dashboard.api_keys import service as keys
    from dashboard.extensions import db
    from dashboard.incomplete_orders import service as orders

    keys.authenticate = timers.wrap("authenticate: key lookup", keys.authenticate)
    keys.count_request = timers.wrap("count_request: rate-limit upsert", keys.count_request)
    views._json_body = timers.wrap("_json_body: JSON + pydantic", views._json_body)
    views.apply_snapshot = timers.wrap("apply_snapshot", views.apply_snapshot)
    orders._locked_by_cart_id = timers.wrap("_locked_by_cart_id", orders._locked_by_cart_id)
    orders._copy_snapshot = timers.wrap("_copy_snapshot", orders._copy_snapshot)
    orders.record = timers.wrap("audit record", orders.record)
    views._cart_out = timers.wrap("_cart_out: response model", views._cart_out)
    views._json = timers.wrap("_json: model_dump_json", views._json)
    Session.commit = timers.wrap("session.commit", Session.commit)
    Session.flush = timers.wrap("session.flush", Session.flush)

    functions = app.before_request_funcs["api"]
    functions[:] = [timers.wrap("authenticate_key (before_request)", f) for f in functions]
    endpoint = "api.put_incomplete_order"
    view = app.view_functions[endpoint]
    app.view_functions[endpoint] = timers.wrap("put_incomplete_order (view)", view)
    teardowns = app.teardown_appcontext_funcs
    teardowns[:] = [timers.wrap("teardown (session.remove)", f) for f in teardowns]

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        seconds = time.perf_counter() - conn.info.pop("bench_started")
        timers.add_sql(short_sql(statement) + (" [executemany]" if executemany else ""), seconds)

    # COMMIT, ROLLBACK and the pool's pre-ping are driver calls, not cursor executes:
    # time them at the dialect.
    dialect = engine.dialect
    for method, label in (
        ("do_commit", "COMMIT"),
        ("do_rollback", "ROLLBACK"),
        ("do_ping", "pre-ping (pool checkout)"),
    ):
        setattr(dialect, method, _timed_driver_call(timers, label, getattr(dialect, method)))


def _timed_driver_call(timers, label, function):
    def timed(dbapi_connection):
        started = time.perf_counter()
        try:
            return function(dbapi_connection)
        finally:
            timers.add_sql(label, time.perf_counter() - started)

    return timed


# --------------------------------------------------------------------------- driving the app


def drive(client, key, pool, count, timings=None):
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(count):
        job = pool.next_job()
        started = time.perf_counter()
        response = client.put(
            f"/api/v1/incomplete-orders/{job.cart.cart_id}",
            data=job.body,
            headers=headers,
            content_type="application/json",
        )
        if timings is not None:
            timings.append(time.perf_counter() - started)
        _, failure = check_answer(job, response.status_code, response.get_data())
        if failure:
            raise BenchError(failure)
        pool.finish(job, True)


def report_timing(timers, timings, count, kind, plain_ms, plain_cpu_ms):
    per_request_ms = sum(timings) / count * 1000
    print(f"\n### {kind}: where the time of one PUT goes ({count:,} PUTs in-process)\n")
    print(
        f"Without instrumentation: {plain_ms:.2f} ms per PUT, {plain_cpu_ms:.2f} ms of it CPU in "
        f"this process ({1000 / plain_ms:.0f}/s at best on one worker, before HTTP and "
        f"gunicorn). With the timers below: {per_request_ms:.2f} ms. Load average now: "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs.\n"
    )
    sql_by_part = defaultdict(lambda: [0, 0.0])
    for (part, _), (n, seconds) in timers.sql.items():
        sql_by_part[part][0] += n
        sql_by_part[part][1] += seconds
    parts = timers.part_seconds
    print(
        "| part of the request | inclusive ms | own ms (minus parts below) "
        "| SQL stmts (own) | SQL ms (own) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for part in sorted(parts):
        children = sum(
            seconds
            for other, seconds in parts.items()
            if other.startswith(part + " > ") and other.count(" > ") == part.count(" > ") + 1
        )
        n, sql_seconds = sql_by_part.get(part, (0, 0.0))
        depth = part.count(" > ")
        label = "&nbsp;&nbsp;" * 2 * depth + ("└ " if depth else "") + part.rsplit(" > ", 1)[-1]
        print(
            f"| {label} | {parts[part] / count * 1000:.3f} "
            f"| {(parts[part] - children) / count * 1000:.3f} "
            f"| {n / count:.2f} | {sql_seconds / count * 1000:.3f} |"
        )
    top_level = sum(seconds for part, seconds in parts.items() if " > " not in part)
    n, sql_seconds = sql_by_part.get("(outside)", (0, 0.0))
    print(
        f"| rest: Werkzeug test client, Flask dispatch and hooks "
        f"| {(sum(timings) - top_level) / count * 1000:.3f} | | {n / count:.2f} "
        f"| {sql_seconds / count * 1000:.3f} |"
    )
    print(f"| **whole PUT** | **{per_request_ms:.3f}** | | | |")

    print("\n| SQL statement | run by | per PUT | avg ms | ms per PUT |")
    print("| --- | --- | ---: | ---: | ---: |")
    rows = defaultdict(lambda: [0, 0.0])  # statements that read the same once shortened
    for (part, statement), (n, seconds) in timers.sql.items():
        run_by = " › ".join(name.split(" ")[0].rstrip(":") for name in part.split(" > "))
        rows[(statement, run_by)][0] += n
        rows[(statement, run_by)][1] += seconds
    total_n = total_s = 0
    for (statement, run_by), (n, seconds) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        total_n, total_s = total_n + n, total_s + seconds
        print(
            f"| `{statement}` | {run_by} | {n / count:.2f} "
            f"| {seconds / n * 1000:.3f} | {seconds / count * 1000:.3f} |"
        )
    print(
        f"| **all SQL, COMMIT and ROLLBACK** | | **{total_n / count:.2f}** | "
        f"| **{total_s / count * 1000:.3f}** |"
    )


LIBRARIES = (
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/flask_sqlalchemy/", "Flask-SQLAlchemy"),
    ("/pydantic", "pydantic"),
    ("/email_validator/", "email-validator"),
    ("/werkzeug/", "Werkzeug"),
    ("/flask_login/", "Flask-Login"),
    ("/flask_wtf/", "Flask-WTF"),
    ("/flask/", "Flask"),
    ("/psycopg", "psycopg"),
    ("/dashboard/", "Reclaim (dashboard/)"),
    ("/bench/", "benchmark driver"),
)


def library_of(filename, function):
    for marker, name in LIBRARIES:
        if marker in filename:
            return name
    if filename == "~":
        if "sqlite3" in function:
            return "sqlite3 (C, incl. the database work)"
        if "psycopg" in function or "pq" in function:
            return "psycopg (C)"
        return "builtins (C)"
    return "Python stdlib"


def report_profile(profile, count, top):
    stats = pstats.Stats(profile)
    by_library = Counter()
    for (filename, _, function), (_, _, own, _, _) in stats.stats.items():
        by_library[library_of(filename, function)] += own
    total = sum(by_library.values())
    print(f"\n### cProfile: own time by library ({count:,} PUTs; cProfile slows Python code)\n")
    print("| library | ms / request | share |")
    print("| --- | ---: | ---: |")
    for name, seconds in by_library.most_common():
        print(f"| {name} | {seconds / count * 1000:.3f} | {seconds / total:.0%} |")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    print(f"\nTop {top} functions by own time:\n\n```")
    print("\n".join(out.getvalue().strip().splitlines()[4:]))
    print("```")


def main(argv=None):
    args = parse_args(argv)
    database = app = None
    try:
        database = fresh_database(BENCH_DB_NAME)
        env = app_env(database.url)
        env["API_RATE_LIMIT_PER_MINUTE"] = str(RATE_LIMIT)
        if args.orders:
            seed_database(env, args.orders)
        else:
            run_flask(env, "db", "upgrade")
        key = create_api_key(env)

        os.environ.update(env)  # config.py reads the environment when it is imported
        sys.path.insert(0, str(PROJECT_ROOT))
        from dashboard import create_app

        app = create_app()
        client = app.test_client()
        pool = CartPool(seed=2)
        log(f"Warming up with {WARMUP} PUTs ...")
        drive(client, key, pool, WARMUP)

        log(f"Plain pass: {args.requests:,} PUTs ...")
        timings = []
        cpu_started = time.process_time()
        drive(client, key, pool, args.requests, timings)
        plain_ms = sum(timings) / args.requests * 1000
        plain_cpu_ms = (time.process_time() - cpu_started) / args.requests * 1000

        log(f"cProfile pass: {args.requests:,} PUTs ...")
        profile = cProfile.Profile()
        profile.runcall(drive, client, key, pool, args.requests)

        log(f"Timing pass: {args.requests:,} PUTs ...")
        timers = Timers()
        instrument(app, timers)
        timings = []
        drive(client, key, pool, args.requests, timings)

        report_timing(timers, timings, args.requests, database.kind, plain_ms, plain_cpu_ms)
        report_profile(profile, args.requests, args.top)
        return 0
    except BenchError as error:
        log(f"\nPROFILE FAILED: {error}")
        return 2
    finally:
        if app is not None:
            from dashboard.extensions import db

            with app.app_context():
                db.engine.dispose()
        if database is not None:
            database.cleanup(keep=False)


if __name__ == "__main__":
    sys.exit(main())
