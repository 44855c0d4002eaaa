"""Where the time of one cart-snapshot upsert goes, measured in-process.

The fresh database, seed, API key and request mix of bench_ingest.py, but the app runs in
this process behind ``app.test_client()`` (no gunicorn, no sockets). Three passes of
--requests PUTs after a warm-up:

1. Plain: the average wall and CPU time of a PUT, nothing attached.
2. Timers: the request's public parts (key lookup, rate-limit upsert, the snapshot
   service, its audit record, the session's flushes and commits) wrapped from here, every
   SQL statement and COMMIT timed, each with its own time per PUT, so the parts add up.
3. cProfile: own time grouped by library, and the top functions.

With --instructions, instead: the instructions one PUT costs, counted by valgrind's
cachegrind (SQLite only; Debian's `valgrind` package). Two runs in processes of their own,
each on a copy of the same prepared database, one of --warmup PUTs and one of --warmup plus
--requests; their difference, divided by --requests, leaves start-up and warm-up out. Wall
time on a shared machine can double from one minute to the next; the count varies by
about 1%, so it tells whether a change to the request's code made it cheaper
(though not what the database's own waits and writes cost).

Usage (from the project root):

    .venv/bin/python bench/profile_ingest.py                 # SQLite, 100,000 orders
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_ingest.py --requests 2000
    .venv/bin/python bench/profile_ingest.py --instructions --orders 0 --requests 300
"""

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
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
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the instructions of one PUT under valgrind instead (SQLite)",
    )
    # The process valgrind runs: --drive COUNT PUTs on --database-url with --key, nothing else.
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
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


INSTRUCTIONS = re.compile(r"^==\d+== I\s+refs:\s+([\d,]+)$", re.MULTILINE)


def count_instructions(args, cleanup):
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        raise BenchError("--instructions counts on SQLite only: unset DATABASE_URL.")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise BenchError("--instructions needs valgrind (Debian: apt-get install valgrind).")
    if args.requests < 1:
        raise BenchError("--requests must be at least 1.")
    database = fresh_database(BENCH_DB_NAME, cleanup)
    environment = app_environment(database.url, API_RATE_LIMIT_PER_MINUTE=RATE_LIMIT)
    from dashboard.extensions import db

    app = in_process_app(background_checkpoints=False)
    _, key = prepare(app, args.orders)
    with app.app_context():
        db.engine.dispose()  # the file whole, for the copies
    prepared = database.url.removeprefix("sqlite:///")
    counts = []
    for puts in (args.warmup, args.warmup + args.requests):
        copy = f"{prepared}.run.sqlite3"
        shutil.copyfile(prepared, copy)
        log(f"{puts:,} PUTs under cachegrind ...")
        done = subprocess.run(
            [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
            + [sys.executable, __file__, "--drive", str(puts), "--key", key]
            + ["--database-url", f"sqlite:///{copy}"],
            env=environment,
            capture_output=True,
            text=True,
        )
        found = INSTRUCTIONS.search(done.stderr)
        if done.returncode != 0 or found is None:
            raise BenchError(f"The run under valgrind failed:\n{done.stderr[-2000:]}")
        counts.append(int(found.group(1).replace(",", "")))
        # The WAL too: a process that ends without closing its connection leaves its
        # writes there, and the next copy would start with them.
        for path in (copy, f"{copy}-wal", f"{copy}-shm"):
            if os.path.exists(path):
                os.remove(path)
    per_put = (counts[1] - counts[0]) / args.requests
    print(
        f"\n### SQLite: instructions per PUT (cachegrind, in-process)\n\n"
        f"{per_put / 1e6:.3f} M instructions per PUT: {counts[1]:,} for "
        f"{args.warmup + args.requests:,} PUTs, less {counts[0]:,} for the first "
        f"{args.warmup:,}, over {args.requests:,}. Seeded orders: {args.orders:,}."
    )
    return 0


def drive_only(args):
    """The process under valgrind: the app on a prepared copy, `--drive` PUTs."""
    app_environment(args.database_url, API_RATE_LIMIT_PER_MINUTE=RATE_LIMIT)
    app = in_process_app(background_checkpoints=False)
    drive(app.test_client(), args.key, CartPool(seed=2), args.drive)
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.drive is not None:
        return drive_only(args)
    if args.instructions:
        return run(lambda cleanup: count_instructions(args, cleanup))
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
