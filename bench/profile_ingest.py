"""Where the time of one cart-snapshot upsert goes, measured in-process.

The fresh database, seed, API key and request mix of bench_ingest.py, but the app runs in
this process behind ``app.test_client()`` (no gunicorn, no sockets). Three passes of
--requests PUTs after a warm-up:

1. Plain: the average wall and CPU time of a PUT, nothing attached.
2. Timers: the request's public parts (key lookup, rate-limit upsert, the snapshot
   service, its audit record, the session's flushes and commits) wrapped from here, every
   SQL statement and COMMIT timed, each with its own time per PUT, so the parts add up.
3. cProfile: own time grouped by library, and the top functions.

Usage (from the project root):

    .venv/bin/python bench/profile_ingest.py                 # SQLite, 100,000 orders
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_ingest.py --requests 2000
"""

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections import Counter

from bench_ingest import BENCH_DB_NAME, RATE_LIMIT, WARMUP, CartPool, check_answer, prepare
from common import (
    BenchError,
    Meter,
    app_environment,
    fresh_database,
    in_process_app,
    log,
    machine,
    print_table,
    run,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to seed (100,000)")
    parser.add_argument("--requests", type=int, default=3_000, help="PUTs per pass (3,000)")
    parser.add_argument("--warmup", type=int, default=WARMUP, help=f"untimed PUTs first ({WARMUP})")
    parser.add_argument("--top", type=int, default=25, help="functions in the cProfile list")
    return parser.parse_args(argv)


def drive(client, key, pool, count):
    """`count` PUTs through the test client; returns their wall seconds."""
    headers = {"Authorization": f"Bearer {key}"}
    seconds = 0.0
    for _ in range(count):
        job = pool.next_job()
        started = time.perf_counter()
        response = client.put(
            f"/api/v1/incomplete-orders/{job.cart.cart_id}",
            data=job.body,
            headers=headers,
            content_type="application/json",
        )
        seconds += time.perf_counter() - started
        _, failure = check_answer(job, response.status_code, response.get_data())
        if failure:
            raise BenchError(failure)
        pool.finish(job, True)
    return seconds


def timed_parts():
    """The request's parts, public functions wrapped where the API's code looks them up."""
    from sqlalchemy.orm import Session

    from dashboard.api import views
    from dashboard.api_keys import service as keys
    from dashboard.incomplete_orders import service as orders

    return [
        (keys, "authenticate", "authenticate(): key lookup"),
        (keys, "count_request", "count_request(): rate-limit upsert"),
        (views, "apply_snapshot", "apply_snapshot(): the cart and its items"),
        (orders, "_audit", "_audit(): the audit event"),
        (Session, "flush", "Session.flush()"),
        (Session, "commit", "Session.commit()"),
    ]


def report_parts(meter, seconds, count, plain_ms, plain_cpu_ms, kind):
    print(f"\n### {kind}: where the time of one PUT goes ({count:,} PUTs in-process)\n")
    print(
        f"Without timers: {plain_ms:.2f} ms per PUT, {plain_cpu_ms:.2f} ms of it CPU in this "
        f"process ({1000 / plain_ms:.0f}/s at best on one worker, before HTTP and gunicorn). "
        f"With them: {seconds / count * 1000:.2f} ms. {machine()}.\n"
    )
    print_table(
        ["part (own time)", "ms per PUT", "share", "calls per PUT"],
        [
            [
                "the rest: test client, Flask dispatch, JSON, pydantic, views"
                if part == "everything else"
                else part,
                f"{part_seconds / count * 1000:.3f}",
                f"{100 * part_seconds / seconds:.0f}%",
                "" if calls is None else f"{calls / count:.2f}",
            ]
            for part, part_seconds, calls in meter.breakdown(seconds, top_sql=10)
        ],
    )
    print(f"\nSQL statements per PUT: {meter.statements / count:.2f}")


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
    print_table(
        ["library", "ms per PUT", "share"],
        [
            [name, f"{seconds / count * 1000:.3f}", f"{seconds / total:.0%}"]
            for name, seconds in by_library.most_common()
        ],
    )
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    print(f"\nTop {top} functions by own time:\n\n```")
    print("\n".join(out.getvalue().strip().splitlines()[4:]))
    print("```")


def benchmark(args, cleanup):
    database = fresh_database(BENCH_DB_NAME, cleanup)
    app_environment(database.url, API_RATE_LIMIT_PER_MINUTE=RATE_LIMIT)
    from dashboard.extensions import db

    app = in_process_app()
    _, key = prepare(app, args.orders)
    client = app.test_client()
    pool = CartPool(seed=2)
    log(f"Warming up with {args.warmup} PUTs ...")
    drive(client, key, pool, args.warmup)

    log(f"Plain pass: {args.requests:,} PUTs ...")
    cpu_started = time.process_time()
    plain_ms = drive(client, key, pool, args.requests) / args.requests * 1000
    plain_cpu_ms = (time.process_time() - cpu_started) / args.requests * 1000

    log(f"Timing pass: {args.requests:,} PUTs ...")
    with app.app_context():
        engine = db.engine
    with Meter(engine, timed_parts()) as meter:
        seconds = drive(client, key, pool, args.requests)

    log(f"cProfile pass: {args.requests:,} PUTs ...")
    profile = cProfile.Profile()
    profile.runcall(drive, client, key, pool, args.requests)
    with app.app_context():
        engine.dispose()

    report_parts(meter, seconds, args.requests, plain_ms, plain_cpu_ms, database.kind)
    report_profile(profile, args.requests, args.top)
    return 0


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
