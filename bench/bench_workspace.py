"""Benchmark the incomplete-orders workspace against a large seeded database.

A fresh database (SQLite temp file, or ``reclaim_bench`` on the PostgreSQL server that
DATABASE_URL names) seeded with ``flask seed-demo --orders N --seed 1`` (timed), a
manager, one sync gunicorn worker on 127.0.0.1; signed in, it times the list, filter,
search, deepest page, sort, detail and bulk requests, reads the worker's peak memory and
prints a Markdown table against the targets.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_workspace.py                      # 1,000,000 orders, SQLite
    .venv/bin/python bench/bench_workspace.py --orders 20000 --repeat 5
    .venv/bin/python bench/bench_workspace.py --orders 200000 --keep   # keep the db ...
    .venv/bin/python bench/bench_workspace.py --skip-seed --database-url URL  # ... reuse it

The bulk scenarios expire open orders, so a reused database has fewer open ones each run.
"""

import argparse
import html
import os
import random
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from common import (
    WARMUP,
    BenchError,
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
from sqlalchemy import DateTime, Integer, String, column, create_engine, func, select, table

BENCH_DB_NAME = "reclaim_bench"
STAFF_EMAIL = "bench@example.com"
STAFF_PASSWORD = "bench-password-1"
SHOP_ZONE = ZoneInfo(os.environ.get("SHOP_TIMEZONE", "Europe/Berlin"))

BULK_IDS_SIZE = 1_000
BULK_IDS_REPEAT = 5
BULK_MATCHING_SIZE = 10_000  # aim: date ranges are widened to at least 80% of it
BULK_MATCHING_REPEAT = 3
MEMORY_TARGET_MB = 150

incomplete_orders = table(
    "incomplete_orders",
    column("id", Integer),
    column("email", String),
    column("status", String),
    column("last_activity_at", DateTime),
    column("subtotal", Integer),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders", type=int, default=1_000_000, help="incomplete orders to seed (1,000,000)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=30,
        help=f"timed requests per scenario after {WARMUP} warm-ups (default 30)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument(
        "--skip-seed",
        action="store_true",
        help="reuse the already seeded database given by --database-url",
    )
    parser.add_argument(
        "--database-url", help="the seeded database to reuse (only with --skip-seed)"
    )
    args = parser.parse_args(argv)
    if args.skip_seed and not args.database_url:
        parser.error("--skip-seed needs --database-url URL of an already seeded database")
    if args.database_url and not args.skip_seed:
        parser.error("--database-url reuses a seeded database: add --skip-seed")
    if args.repeat < 1 or args.orders < 1:
        parser.error("--orders and --repeat must be at least 1")
    return args


# --------------------------------------------------------------------------- test data


def shop_day_start_utc(day):
    local = datetime.combine(day, day_time.min, tzinfo=SHOP_ZONE)
    return local.astimezone(UTC).replace(tzinfo=None)


def shop_day(utc_naive):
    return utc_naive.replace(tzinfo=UTC).astimezone(SHOP_ZONE).date()


@dataclass
class BulkRange:
    start: date
    end: date
    open_count: int
    max_value: str | None = None  # a value cap (major units) that trims the range to the aim

    @property
    def filter_query(self):
        params = [
            ("status", "open"),
            ("active_from", self.start.isoformat()),
            ("active_to", self.end.isoformat()),
        ]
        if self.max_value is not None:
            params.append(("max_value", self.max_value))
        return urlencode(params)


class DataPicker:
    """Reads the seeded database to choose realistic inputs for the requests."""

    def __init__(self, url):
        self.engine = create_engine(url)
        self.random = random.Random(1)

    def close(self):
        self.engine.dispose()

    def _scalar(self, stmt):
        with self.engine.connect() as connection:
            return connection.execute(stmt).scalar()

    def _scalars(self, stmt):
        with self.engine.connect() as connection:
            return list(connection.execute(stmt).scalars())

    def count_orders(self, status=None):
        stmt = select(func.count()).select_from(incomplete_orders)
        if status:
            stmt = stmt.where(incomplete_orders.c.status == status)
        return self._scalar(stmt)

    def search_terms(self, count, first_offset=12_345, step=7_919):
        """`count` (fragment, email) pairs: the fragment is the email's local part without
        its first character, taken from rows spread over the table."""
        t = incomplete_orders
        with_email = self._scalar(select(func.count()).where(t.c.email.is_not(None)))
        if not with_email:
            raise BenchError("No incomplete order has an email to search for")
        terms, offset, tries = {}, first_offset, 0
        while len(terms) < count and tries < count * 20:
            tries += 1
            email = self._scalar(
                select(t.c.email)
                .where(t.c.email.is_not(None))
                .order_by(t.c.id)
                .limit(1)
                .offset(offset % with_email)
            )
            fragment = email.split("@", 1)[0][1:]
            if len(fragment) >= 5:
                terms.setdefault(fragment, email)
            offset += step
        if len(terms) < count:
            raise BenchError(f"Found only {len(terms)} usable search fragments")
        return list(terms.items())

    def detail_ids(self, count):
        """`count` existing ids spread at random over the whole id range."""
        t = incomplete_orders
        low, high = self._scalar(select(func.min(t.c.id))), self._scalar(select(func.max(t.c.id)))
        return [
            self._scalar(select(func.min(t.c.id)).where(t.c.id >= self.random.randint(low, high)))
            for _ in range(count)
        ]

    def oldest_open_ids(self, count):
        """Ids of the `count` open orders with the oldest activity, and that activity's last day."""
        t = incomplete_orders
        ids = self._scalars(
            select(t.c.id)
            .where(t.c.status == "open")
            .order_by(t.c.last_activity_at, t.c.id)
            .limit(count)
        )
        if not ids:
            return [], None
        last_activity = self._scalar(select(func.max(t.c.last_activity_at)).where(t.c.id.in_(ids)))
        return ids, shop_day(last_activity)

    def _open_active_between(self, start, end):
        t = incomplete_orders
        return (
            t.c.status == "open",
            t.c.last_activity_at >= shop_day_start_utc(start),
            t.c.last_activity_at < shop_day_start_utc(end + timedelta(days=1)),
        )

    def count_open_active_between(self, start, end, max_subtotal=None):
        t = incomplete_orders
        conditions = self._open_active_between(start, end)
        if max_subtotal is not None:
            conditions += (t.c.subtotal <= max_subtotal,)
        return self._scalar(select(func.count()).where(*conditions))

    def trimmed_to(self, bulk_range, aim):
        """The range with a value cap so that it holds about `aim` open orders."""
        t = incomplete_orders
        cap = self._scalar(
            select(t.c.subtotal)
            .where(*self._open_active_between(bulk_range.start, bulk_range.end))
            .order_by(t.c.subtotal)
            .offset(aim - 1)
            .limit(1)
        )
        if cap is None:
            return bulk_range
        count = self.count_open_active_between(bulk_range.start, bulk_range.end, cap)
        return BulkRange(bulk_range.start, bulk_range.end, count, f"{cap / 100:.2f}")

    def bulk_ranges(self, count, aim, after_day):
        """Up to `count` disjoint shop-day ranges, newest first and all after `after_day`,
        each widened a day at a time until it holds at least `aim` open orders, then
        trimmed to about `aim` with a value cap (the report shows each range's count)."""
        t = incomplete_orders
        newest = self._scalar(select(func.max(t.c.last_activity_at)).where(t.c.status == "open"))
        if newest is None:
            return []
        floor = after_day + timedelta(days=1) if after_day else date.min
        ranges, end = [], shop_day(newest)
        while len(ranges) < count and end >= floor:
            start = end
            open_count = self.count_open_active_between(start, end)
            while open_count < aim and start > floor:
                start -= timedelta(days=1)
                open_count = self.count_open_active_between(start, end)
            if open_count < aim:
                break
            bulk_range = BulkRange(start, end, open_count)
            ranges.append(self.trimmed_to(bulk_range, aim) if open_count > aim else bulk_range)
            end = start - timedelta(days=1)
        return ranges


# --------------------------------------------------------------------------- measuring


def bench_reads(client, picker, repeat):
    """The read-only scenarios: list pages, search, detail."""
    total = WARMUP + repeat
    thirty_days_ago = (datetime.now(SHOP_ZONE).date() - timedelta(days=30)).isoformat()
    terms = picker.search_terms(total)
    log(
        f"Search fragments: {', '.join(repr(f) for f, _ in terms[WARMUP : WARMUP + 5])}"
        + (" ..." if repeat > 5 else "")
    )

    def gets(path):
        return [Request("GET", path) for _ in range(total)]

    search_pages = []
    results = [
        measure(client, "list first page", gets("/incomplete-orders/"), 30),
        measure(
            client,
            "open, last 30 days",
            gets(f"/incomplete-orders/?status=open&active_from={thirty_days_ago}"),
            30,
        ),
        measure(
            client,
            "search email fragment",
            [Request("GET", "/incomplete-orders/?" + urlencode({"q": f})) for f, _ in terms],
            60,
            on_response=lambda r: search_pages.append(r.text),
        ),
        measure(client, "deepest page", gets("/incomplete-orders/?cursor=last"), 30),
        measure(client, "sorted by value", gets("/incomplete-orders/?sort=-value"), 30),
        measure(
            client,
            "detail page",
            [Request("GET", f"/incomplete-orders/{i}") for i in picker.detail_ids(total)],
            30,
        ),
    ]
    # Fast but empty would flatter search: check the row it came from is on the page.
    found = sum(
        html.escape(email) in page
        for (_, email), page in zip(terms[WARMUP:], search_pages[WARMUP:], strict=True)
    )
    results[2].notes.append(
        f"first fragment {terms[WARMUP][0]!r}, {repeat} different; "
        f"the email it came from was on the first result page {found}/{repeat} times"
    )
    return results


_EXPIRED = re.compile(r"Expired ([\d,]+) incomplete order")


def expired_count(response):
    match = _EXPIRED.search(response.text)
    return int(match.group(1).replace(",", "")) if match else None


def bulk_request(client, fields):
    return Request(
        "POST",
        "/incomplete-orders/bulk",
        form=[("csrf_token", client.csrf_token), ("action", "expire"), ("confirm", "y"), *fields],
        headers={"HX-Request": "true"},
    )


def bench_bulk(client, picker, repeat):
    """Expire chosen ids, then everything matching a date filter; each run hits fresh rows."""
    ids_repeat, matching_repeat = min(repeat, BULK_IDS_REPEAT), min(repeat, BULK_MATCHING_REPEAT)
    open_total = picker.count_orders("open")
    # Small databases get proportionally smaller batches, named as such in the table.
    batch = min(BULK_IDS_SIZE, open_total // (2 * (ids_repeat + 1)))
    aim = min(BULK_MATCHING_SIZE, (open_total - batch * (ids_repeat + 1)) // (matching_repeat + 1))
    if batch < 1:
        raise BenchError(f"Only {open_total} open orders: too few for the bulk scenarios")
    log(f"Open orders: {open_total:,}; bulk batches of {batch:,} ids, filters of ~{aim:,} rows")

    ids, last_day_of_ids = picker.oldest_open_ids(batch * (ids_repeat + 1))
    batches = [ids[i : i + batch] for i in range(0, batch * (ids_repeat + 1), batch)]
    ranges = picker.bulk_ranges(matching_repeat, aim, last_day_of_ids)

    changed_by_ids = []
    results = [
        measure(
            client,
            f"bulk expire {batch:,} ids",
            [bulk_request(client, [("ids", i) for i in chunk]) for chunk in batches],
            100,
            warmup=1,
            on_response=lambda r: changed_by_ids.append(expired_count(r)),
        )
    ]
    results[0].notes.append(f"changed per request: {changed_by_ids[1:]}")
    if changed_by_ids[1:] != [len(chunk) for chunk in batches[1:]]:
        raise BenchError(f"Bulk expire by ids changed {changed_by_ids}, not {batch:,} each")

    if not ranges:
        log("No date range holds enough open orders: skipping the all-matching scenario")
        return results
    changed_by_filter = []
    result = measure(
        client,
        f"bulk expire all matching ~{aim:,}",
        [
            # Over 1,000 rows the confirm asks for the count to be typed, as a person does.
            bulk_request(
                client,
                [
                    ("all_matching", "y"),
                    ("filter_query", r.filter_query),
                    ("typed_count", str(r.open_count)),
                ],
            )
            for r in ranges
        ],
        300,
        warmup=0,
        on_response=lambda r: changed_by_filter.append(expired_count(r)),
    )
    for bulk_range, changed in zip(ranges, changed_by_filter, strict=True):
        note = (
            f"{bulk_range.filter_query}: {bulk_range.open_count:,} open by SQL, "
            f"changed {'?' if changed is None else f'{changed:,}'}"
        )
        result.notes.append(note)
        log("    " + note)
        if changed is None:  # refused: the timing would be of a refusal, not of the expiry
            raise BenchError(f"Bulk expire of {bulk_range.filter_query} changed nothing")
    results.append(result)
    return results


# --------------------------------------------------------------------------- report


def print_report(database, orders, seed_seconds, results, memory_mb):
    seeded = f"{seed_seconds:.1f} s" if seed_seconds is not None else "skipped (reused database)"
    print()
    print(
        f"Database: {database.kind}  ·  orders: {orders:,}  ·  seed-demo: {seeded}  ·  {machine()}"
    )
    print()
    rows = [
        [
            r.scenario,
            f"{r.timings.p50:.1f}",
            f"{r.timings.p95:.1f}",
            f"{r.timings.max:.1f}",
            f"p95 < {r.target_ms:g} ms",
            yes_no(r.ok),
        ]
        for r in results
    ]
    memory_ok = memory_mb < MEMORY_TARGET_MB
    rows.append(
        [
            "worker peak memory (VmHWM)",
            "",
            "",
            f"{memory_mb:.1f} MB",
            f"< {MEMORY_TARGET_MB} MB",
            yes_no(memory_ok),
        ]
    )
    print_table(["scenario", "p50 ms", "p95 ms", "max ms", "target", "ok?"], rows)
    notes = [(r.scenario, note) for r in results for note in r.notes]
    if notes:
        print()
        for scenario, note in notes:
            print(f"- {scenario}: {note}")
    return all(r.ok for r in results) and memory_ok


def benchmark(args, cleanup):
    database = fresh_database(BENCH_DB_NAME, cleanup, keep=args.keep, reuse_url=args.database_url)
    env = app_environment(database.url)
    app = in_process_app(background_checkpoints=False)
    seed_seconds = None
    if args.skip_seed:
        migrate(app)
    else:
        seed_seconds = seed_demo(app, args.orders)
    settle(database.url)
    # A reused database usually has the account already: that is fine.
    create_staff(app, STAFF_EMAIL, STAFF_PASSWORD, check=not database.reused)
    dispose(app)

    picker = DataPicker(database.url)
    cleanup.callback(picker.close)
    orders = picker.count_orders()
    server = cleanup.enter_context(Gunicorn(env))
    client = Client(server.port)
    client.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
    log(f"Signed in as {STAFF_EMAIL}; {orders:,} incomplete orders in the {database.kind} db")

    results = bench_reads(client, picker, args.repeat)
    results += bench_bulk(client, picker, args.repeat)
    memory_mb = server.worker_peak_memory_mb()
    return 0 if print_report(database, orders, seed_seconds, results, memory_mb) else 1


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
