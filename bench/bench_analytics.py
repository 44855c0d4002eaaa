"""Benchmark the analytics: ``flask update-analytics`` from scratch and an hourly run, the
/analytics/ sections for 30 days and for two years, and each CSV.

A fresh database (SQLite temp file, or ``reclaim_bench_analytics`` on the PostgreSQL server
that DATABASE_URL names) seeded with ``flask seed-demo --orders N --seed 1 --days 730``
(carts spread over two years, as a shop that has run Reclaim for a while); the demo's
recovery attempts get the outbox rows the recovery run would have written for them (sent,
as delivery leaves them), so emails count. Then, in this process: update-analytics from
scratch (no rollup yet) and again an hour later; then one sync gunicorn worker on
127.0.0.1, signed in as a manager, timing each report section (the htmx request the page
makes) and each CSV, and a Markdown table against the targets.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_analytics.py                  # 1,000,000 carts, SQLite
    .venv/bin/python bench/bench_analytics.py --orders 50000 --repeat 5   # quick check
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_analytics.py             # PostgreSQL
"""

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from common import (
    WARMUP,
    Client,
    Gunicorn,
    Request,
    app_environment,
    create_staff,
    dispose,
    fresh_database,
    in_process_app,
    log,
    machine,
    measure,
    migrate,
    print_table,
    run,
    seed_demo,
    settle,
    yes_no,
)

BENCH_DB_NAME = "reclaim_bench_analytics"
STAFF_EMAIL = "bench@example.com"
STAFF_PASSWORD = "bench-password-1"
FROM_SCRATCH_TARGET_S = 60
HOURLY_TARGET_S = 5
PAGE_TARGET_MS = 100
CSV_TARGET_MS = 1000
SECTIONS = ("summary", "funnel", "days", "steps", "patterns", "returns")
CSVS = (
    "recovery.csv",
    "steps.csv",
    "abandonment.csv?by=stage",
    "abandonment.csv?by=sku",
    "returns.csv",
)

OUTBOX_FOR_ATTEMPTS = """
INSERT INTO outbox_messages (kind, dedupe_key, to_email, headers_json, status, attempts,
                             next_attempt_at, created_at, sent_at, record_type, record_id)
SELECT 'recovery', 'recovery:' || a.incomplete_order_id || ':' || a.step,
       coalesce(c.email, 'nobody@example.com'), '{}', 'sent', 1,
       a.sent_at, a.sent_at, a.sent_at, 'incomplete_order', a.incomplete_order_id
FROM recovery_attempts a JOIN incomplete_orders c ON c.id = a.incomplete_order_id
WHERE NOT EXISTS (SELECT 1 FROM outbox_messages m
                  WHERE m.dedupe_key = 'recovery:' || a.incomplete_order_id || ':' || a.step)
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="demo carts to seed")
    parser.add_argument(
        "--days", type=int, default=730, help="days the carts are spread over (two years)"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument(
        "--database-url",
        help="reuse a database an earlier --keep run seeded (its rollups are cleared first, "
        "so the run from scratch is one)",
    )
    return parser.parse_args(argv)


def timed_run(app, label, now=None):
    from dashboard.analytics.rollup import update_analytics

    with app.app_context():
        started = time.perf_counter()
        result = update_analytics(now=now)
        seconds = time.perf_counter() - started
    log(f"  {label}: {seconds:.1f} s, {result.counts()}")
    return seconds, result


def benchmark(args, cleanup):
    database = fresh_database(BENCH_DB_NAME, cleanup, keep=args.keep, reuse_url=args.database_url)
    env = app_environment(database.url)
    app = in_process_app(background_checkpoints=False)
    from sqlalchemy import delete, func, select, text, update

    from dashboard.analytics.models import ROLLUP_MODELS
    from dashboard.extensions import db
    from dashboard.incomplete_orders.models import IncompleteOrder

    if database.reused:
        migrate(app)
        seed_seconds = 0.0
        with app.app_context():
            for model in ROLLUP_MODELS:
                db.session.execute(delete(model))
            db.session.execute(update(IncompleteOrder).values(abandoned_at=None))
            db.session.commit()
    else:
        seed_seconds = seed_demo(app, args.orders, days=args.days)
    create_staff(app, STAFF_EMAIL, STAFF_PASSWORD, check=not database.reused)
    with app.app_context():
        db.session.execute(text(OUTBOX_FOR_ATTEMPTS))
        db.session.commit()
        first, last = db.session.execute(
            select(
                func.min(IncompleteOrder.last_activity_at),
                func.max(IncompleteOrder.last_activity_at),
            )
        ).one()
    log(f"Carts last active from {first} to {last}")
    settle(database.url)

    log("update-analytics ...")
    scratch_s, scratch = timed_run(app, "from scratch")
    hourly_s, hourly = timed_run(
        app, "an hour later", now=datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    )
    dispose(app)

    today = datetime.now(UTC).date()
    ranges = {
        "30 days": {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()},
        "two years": {"from": (today - timedelta(days=729)).isoformat(), "to": today.isoformat()},
    }
    results = []
    with Gunicorn(env) as server:
        client = Client(server.port)
        client.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
        total = WARMUP + args.repeat
        for span, query in ranges.items():
            qs = urlencode(query)
            results.append(
                measure(
                    client,
                    f"page, {span}",
                    [Request("GET", f"/analytics/?{qs}")] * total,
                    PAGE_TARGET_MS,
                )
            )
            for name in SECTIONS:
                requests = [
                    Request(
                        "GET", f"/analytics/sections/{name}?{qs}", headers={"HX-Request": "true"}
                    )
                ] * total
                results.append(measure(client, f"{name}, {span}", requests, PAGE_TARGET_MS))
        qs = urlencode(ranges["two years"])
        for name in CSVS:
            joiner = "&" if "?" in name else "?"
            requests = [Request("GET", f"/analytics/{name}{joiner}{qs}")] * (
                1 + max(3, args.repeat // 4)
            )
            results.append(measure(client, f"{name}, two years", requests, CSV_TARGET_MS, warmup=1))
        client.close()

    print(f"# Analytics benchmark: {database.kind}, {args.orders:,} demo carts\n")
    print(
        f"{machine()}; seed-demo {seed_seconds:.0f} s; carts last active {first:%Y-%m-%d} to {last:%Y-%m-%d}\n"
    )
    runs = [
        ("update-analytics from scratch", scratch_s, FROM_SCRATCH_TARGET_S, scratch),
        ("update-analytics an hour later", hourly_s, HOURLY_TARGET_S, hourly),
    ]
    print_table(
        ["part", "seconds", "target s", "ok?", "counts"],
        [(name, f"{s:.1f}", target, yes_no(s < target), r.counts()) for name, s, target, r in runs],
    )
    print()
    print_table(
        ["scenario", "p50 ms", "p95 ms", "max ms", "target", "ok?"],
        [
            (
                r.scenario,
                f"{r.timings.p50:.1f}",
                f"{r.timings.p95:.1f}",
                f"{r.timings.max:.1f}",
                r.target_ms,
                yes_no(r.ok),
            )
            for r in results
        ],
    )
    ok = (
        scratch_s < FROM_SCRATCH_TARGET_S
        and hourly_s < HOURLY_TARGET_S
        and all(r.ok for r in results)
    )
    return 0 if ok else 1


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
