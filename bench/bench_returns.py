"""Benchmark the returns desk and the storefront's return-request API at scale.

A fresh database (SQLite temp file, or ``reclaim_bench_returns`` on the PostgreSQL server
that DATABASE_URL names) seeded with ``flask seed-demo --orders N --seed 1`` (the
incomplete orders, the orders they became and about one return request per twenty of
those), then topped up in bulk: more orders up to --orders (delivered in the last days,
no request yet: the API's customers) and more return requests, drawn by the demo's own
return generator over delivered orders without one, up to --returns. A manager and an API
key, one sync gunicorn worker on 127.0.0.1; signed in, it times the returns list (the
pending queue, a filter, an email search, the deepest page), the detail page,
``POST /api/v1/return-requests`` and bulk approve, and prints a Markdown table against
the targets.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_returns.py            # 50,000 requests, 1,000,000 carts, SQLite
    .venv/bin/python bench/bench_returns.py --incomplete-orders 100000 --orders 20000 \\
        --returns 10000 --repeat 10                    # quick check
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_returns.py       # PostgreSQL
    .venv/bin/python bench/bench_returns.py --database-url URL   # reuse a --keep run's
"""

import argparse
import html
import itertools
import json
import random
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

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
    issue_api_key,
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
from sqlalchemy import create_engine, text

BENCH_DB_NAME = "reclaim_bench_returns"
STAFF_EMAIL = "bench@example.com"
STAFF_PASSWORD = "bench-password-1"
RATE_LIMIT = 100_000_000  # never trips, but the per-request counter upsert still runs

API_WARMUP = 20
BULK_REPEAT = 3  # timed bulk approves, after one untimed
BATCH = 20_000  # rows per bulk insert while topping up

READ_TARGET_MS = 30
API_TARGET_MS = 25
BULK_TARGET_MS = 300


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--incomplete-orders",
        type=int,
        default=1_000_000,
        help="incomplete orders seed-demo makes (default 1,000,000)",
    )
    parser.add_argument(
        "--orders", type=int, default=100_000, help="orders in all, at least (default 100,000)"
    )
    parser.add_argument(
        "--returns", type=int, default=50_000, help="return requests in all (default 50,000)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=30,
        help=f"timed requests per read scenario after {WARMUP} warm-ups (default 30)",
    )
    parser.add_argument(
        "--api-requests",
        type=int,
        default=1_500,
        help=f"timed POSTs of a return request after {API_WARMUP} warm-ups (default 1,500; "
        "they are pending requests for bulk approve too)",
    )
    parser.add_argument(
        "--bulk-size", type=int, default=500, help="requests per bulk approve (default 500)"
    )
    parser.add_argument(
        "--database-name",
        default=BENCH_DB_NAME,
        help=f"PostgreSQL: the database to (re)create and drop (default {BENCH_DB_NAME})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument(
        "--database-url",
        help="reuse a database an earlier --keep run seeded (no seeding; each run adds "
        "--api-requests requests and approves some pending ones)",
    )
    args = parser.parse_args(argv)
    if min(args.incomplete_orders, args.repeat, args.api_requests, args.bulk_size) < 1:
        parser.error("sizes, --repeat, --api-requests and --bulk-size must be at least 1")
    return args


# --------------------------------------------------------------------------- seeding


def midnight_utc():
    """Today at midnight UTC, as the demo generator dates its data."""
    return datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)


class TopUp:
    """Adds orders and return requests to a seeded database, in bulk, through the demo's
    own writer (COPY on PostgreSQL, executemany on SQLite) and return generator."""

    def __init__(self, app):
        from dashboard.extensions import db

        self.app = app
        self.db = db

    def _scalar(self, sql):
        with self.app.app_context():
            return self.db.session.execute(text(sql)).scalar() or 0

    def _write(self, rows_by_table):
        from dashboard.demo.commands import BulkWriter

        with self.app.app_context(), self.db.engine.begin() as connection:
            writer = BulkWriter(connection)
            for table, (columns, rows) in rows_by_table.items():
                writer.insert(table, columns, rows)

    def api_orders(self, count, seed=2):
        """`count` storefront orders delivered in the last three weeks, none asked about:
        what the API's return requests are for. Returns [(number, email, [(sku, qty)])]."""
        from dashboard.demo import generator as demo

        rng = random.Random(seed)
        now = midnight_utc()
        next_id = self._scalar("SELECT max(id) FROM orders") + 1
        next_item_id = self._scalar("SELECT max(id) FROM order_items") + 1
        currency = self.app.config["SHOP_CURRENCY"]
        orders, items, customers = [], [], []
        for order_id in range(next_id, next_id + count):
            first, last = rng.choice(demo.FIRST_NAMES), rng.choice(demo.LAST_NAMES)
            email = (
                f"{first}.{last}{rng.randrange(1, 9999)}@{rng.choice(demo.DOMAINS)}".lower()
                .replace("ü", "ue")
                .replace("ö", "oe")
            )
            delivered = now - timedelta(minutes=rng.randrange(60, 21 * 24 * 60))
            placed = delivered - timedelta(minutes=rng.randrange(20 * 60, 5 * 24 * 60))
            lines = [
                (p[0], p[1], rng.choice((1, 1, 2)), p[2]) for p in rng.sample(demo.PRODUCTS, 2)
            ]
            for sku, name, quantity, price in lines:
                items.append((next_item_id, order_id, sku, name, quantity, price))
                next_item_id += 1
            total = sum(q * p for _, _, q, p in lines)
            number = f"{100000 + order_id}"
            orders.append(
                (order_id, number, "storefront", None, None, email, f"{first} {last}", None)
                + (currency, total, True, placed, placed, None, delivered, 0)
            )
            customers.append((number, email, [(sku, quantity) for sku, _, quantity, _ in lines]))
        self._write(
            {
                "orders": (demo.ORDER_COLUMNS, orders),
                "order_items": (demo.ORDER_ITEM_COLUMNS, items),
            }
        )
        return customers

    def returns(self, wanted, seed=3):
        """Return requests from the demo's generator over delivered orders without one,
        oldest orders first, until there are `wanted` in all; returns how many it added."""
        from dashboard.demo import generator as demo

        have = self._scalar("SELECT count(*) FROM return_requests")
        needed = wanted - have
        if needed <= 0:
            return 0
        without_request = (
            "o.delivered_at IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM return_requests r WHERE r.order_id = o.id)"
        )
        candidates = self._scalar(f"SELECT count(*) FROM orders o WHERE {without_request}")
        first_id = self._scalar("SELECT max(id) FROM return_requests") + 1
        returns = demo.DemoReturns(seed, midnight_utc(), first_id)
        # The generator asks about one order in twenty; here enough of them, a little more
        # often than needed, since requests that would lie in the future are not made.
        share, demo.RETURN_SHARE = demo.RETURN_SHARE, min(1.0, 1.25 * needed / max(candidates, 1))
        refunds = []
        try:
            with self.app.app_context(), self.db.engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT o.id, o.email, o.currency, o.delivered_at, "
                        "i.id, i.sku, i.name, i.quantity, i.unit_price "
                        "FROM orders o JOIN order_items i ON i.order_id = o.id "
                        f"WHERE {without_request} ORDER BY o.id, i.id"
                    )
                )
                for (order_id, email, currency, delivered), lines in itertools.groupby(
                    rows, key=lambda row: tuple(row[:4])
                ):
                    if isinstance(delivered, str):  # SQLite through text(): the stored text
                        delivered = datetime.fromisoformat(delivered)
                    items = [tuple(row[4:]) for row in lines]
                    refunded = returns.for_order(order_id, email, currency, delivered, items)
                    if refunded:
                        refunds.append({"refunded": refunded, "id": order_id})
                    if returns.next_id - first_id >= needed:
                        break
        finally:
            demo.RETURN_SHARE = share
        added = returns.next_id - first_id
        self._write_returns(returns)
        if refunds:
            with self.app.app_context(), self.db.engine.begin() as connection:
                connection.execute(
                    text(
                        "UPDATE orders SET refunded_total = refunded_total + :refunded "
                        "WHERE id = :id"
                    ),
                    refunds,
                )
        return added

    def _write_returns(self, returns):
        from dashboard.demo import generator as demo

        requests, lines, events, notes = returns.take()
        for start in range(0, len(requests), BATCH):
            self._write({"return_requests": (demo.RETURN_COLUMNS, requests[start : start + BATCH])})
        for table, columns, rows in (
            ("return_lines", demo.RETURN_LINE_COLUMNS, lines),
            ("return_events", demo.RETURN_EVENT_COLUMNS, events),
            ("return_notes", demo.RETURN_NOTE_COLUMNS, notes),
        ):
            for start in range(0, len(rows), BATCH):
                self._write({table: (columns, rows[start : start + BATCH])})

    def finish(self):
        """Sequences past the rows written here (PostgreSQL), then statistics (`settle`)."""
        with self.app.app_context(), self.db.engine.begin() as connection:
            url = connection.engine.url.render_as_string(hide_password=False)
            if connection.dialect.name == "postgresql":
                for table in ("orders", "order_items", "return_requests"):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))"
                        )
                    )
        settle(url)


@dataclass
class Seeded:
    seed_demo_seconds: float
    top_up_seconds: float
    customers: list  # the API's orders: (number, email, [(sku, quantity)])
    counts: dict = field(default_factory=dict)


def seed(app, args):
    seed_seconds = seed_demo(app, args.incomplete_orders)
    started = time.perf_counter()
    top_up = TopUp(app)
    seeded_orders = top_up._scalar("SELECT count(*) FROM orders")
    api_total = API_WARMUP + args.api_requests
    extra = max(args.orders - seeded_orders, api_total)
    # The requests first, over seed-demo's orders: the API's orders must have none.
    added = top_up.returns(args.returns)
    log(f"Topped up: {added:,} more return requests")
    customers = top_up.api_orders(extra)
    log(f"Topped up: {extra:,} orders for the API (seed-demo made {seeded_orders:,})")
    top_up.finish()
    seconds = time.perf_counter() - started
    log(f"Top-up took {seconds:.1f} s")
    return Seeded(seed_seconds, seconds, customers[:api_total])


# --------------------------------------------------------------------------- test data


class DataPicker:
    """Reads the seeded database to choose realistic inputs for the requests."""

    def __init__(self, url):
        self.engine = create_engine(url)
        self.random = random.Random(1)

    def close(self):
        self.engine.dispose()

    def rows(self, sql, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).all()

    def scalar(self, sql, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def counts(self):
        tables = ("incomplete_orders", "orders", "return_requests")
        counts = {t: self.scalar(f"SELECT count(*) FROM {t}") for t in tables}
        counts["pending"] = self.pending_count()
        return counts

    def pending_count(self):
        return self.scalar("SELECT count(*) FROM return_requests WHERE status = 'pending'")

    def search_terms(self, count):
        """`count` (fragment, email) pairs: an email's local part without its first
        character, from requests spread over the table."""
        total = self.scalar("SELECT count(*) FROM return_requests")
        terms, offset = {}, 1_234
        for _ in range(count * 20):
            email = self.scalar(
                "SELECT email FROM return_requests ORDER BY id LIMIT 1 OFFSET :offset",
                offset=offset % total,
            )
            fragment = email.split("@", 1)[0][1:]
            if len(fragment) >= 5:
                terms.setdefault(fragment, email)
            if len(terms) == count:
                return list(terms.items())
            offset += 797
        raise BenchError(f"Found only {len(terms)} usable search fragments")

    def detail_ids(self, count):
        low = self.scalar("SELECT min(id) FROM return_requests")
        high = self.scalar("SELECT max(id) FROM return_requests")
        return [
            self.scalar(
                "SELECT min(id) FROM return_requests WHERE id >= :id",
                id=self.random.randint(low, high),
            )
            for _ in range(count)
        ]

    def api_customers(self, count):
        """A reused database: `count` storefront orders no request was made for, as
        TopUp.api_orders returns them."""
        orders = self.rows(
            "SELECT o.id, o.number, o.email FROM orders o WHERE o.source = 'storefront' "
            "AND o.delivered_at IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM return_requests r WHERE r.order_id = o.id) "
            "ORDER BY o.id DESC LIMIT :count",
            count=count,
        )
        if len(orders) < count:
            raise BenchError(f"Only {len(orders)} orders left without a request: seed afresh")
        lines = {}
        low = min(order_id for order_id, _, _ in orders)
        for order_id, sku, quantity in self.rows(
            "SELECT order_id, sku, quantity FROM order_items WHERE order_id >= :low ORDER BY id",
            low=low,
        ):
            lines.setdefault(order_id, []).append((sku, quantity))
        return [(number, email, lines[order_id]) for order_id, number, email in orders]

    def oldest_pending_ids(self, count):
        rows = self.rows(
            "SELECT id FROM return_requests WHERE status = 'pending' "
            "ORDER BY submitted_at, id LIMIT :count",
            count=count,
        )
        return [row[0] for row in rows]


# --------------------------------------------------------------------------- measuring


def bench_reads(client, picker, repeat):
    total = WARMUP + repeat
    sixty_days_ago = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    terms = picker.search_terms(total)
    a_filter = urlencode({"status": "any", "reason": "damaged", "submitted_from": sixty_days_ago})

    def gets(path):
        return [Request("GET", path) for _ in range(total)]

    search_pages = []
    results = [
        measure(client, "list, pending (default view)", gets("/returns/"), READ_TARGET_MS),
        measure(client, "list, a filter", gets(f"/returns/?{a_filter}"), READ_TARGET_MS),
        measure(
            client,
            "search email fragment",
            [Request("GET", "/returns/?" + urlencode({"status": "any", "q": f})) for f, _ in terms],
            READ_TARGET_MS,
            on_response=lambda r: search_pages.append(r.text),
        ),
        measure(client, "deepest page", gets("/returns/?status=any&cursor=last"), READ_TARGET_MS),
        measure(
            client,
            "detail page",
            [Request("GET", f"/returns/{i}") for i in picker.detail_ids(total)],
            READ_TARGET_MS,
        ),
    ]
    results[1].notes.append(a_filter)
    found = sum(
        html.escape(email) in page
        for (_, email), page in zip(terms[WARMUP:], search_pages[WARMUP:], strict=True)
    )
    results[2].notes.append(
        f"status=any&q=<fragment>, first {terms[WARMUP][0]!r}, {repeat} different; "
        f"the email it came from was on the first result page {found}/{repeat} times"
    )
    return results


def bench_api(port, key, customers):
    """POST a return request for each of `customers` (one item, one of each line's units),
    with an Idempotency-Key as the storefront sends; each must answer 201 pending."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    client = Client(port, headers=headers, timeout=120)
    requests = [
        Request(
            "POST",
            "/api/v1/return-requests",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            body=json.dumps(
                {
                    "order_number": number,
                    "email": email.upper() if index % 5 == 0 else email,
                    "type": "return",
                    "reason": "size_or_fit",
                    "items": [{"sku": lines[0][0], "quantity": 1}],
                }
            ).encode(),
        )
        for index, (number, email, lines) in enumerate(customers)
    ]
    statuses = []
    warmup = min(API_WARMUP, len(requests) - 1)
    result = measure(
        client,
        "POST /api/v1/return-requests",
        requests,
        API_TARGET_MS,
        warmup=warmup,
        status=201,
        on_response=lambda r: statuses.append(json.loads(r.body)["status"]),
    )
    result.notes.append(
        f"{len(requests) - warmup:,} timed after {warmup}; statuses answered {sorted(set(statuses))}; "
        f"server closed the connection {client.closed_by_server:,} times"
    )
    client.close()
    return result


_APPROVED = re.compile(r"Approved ([\d,]+) return request")


def bench_bulk(client, picker, size):
    pending = picker.pending_count()
    batch = min(size, pending // (BULK_REPEAT + 1))
    if batch < 1:
        raise BenchError(f"Only {pending} pending return requests: too few to approve in bulk")
    ids = picker.oldest_pending_ids(batch * (BULK_REPEAT + 1))
    # The connection sat idle through the API's requests: a threaded worker has closed it
    # by now, and a POST is not retried on a stale one. Start afresh.
    client.close()
    batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]
    changed = []
    result = measure(
        client,
        f"bulk approve {batch:,}",
        [
            Request(
                "POST",
                "/returns/bulk",
                form=[
                    ("csrf_token", client.csrf_token),
                    ("action", "approve"),
                    ("confirm", "y"),
                    ("note", "Please use the prepaid label in the parcel."),
                    *[("ids", i) for i in chunk],
                ],
                headers={"HX-Request": "true"},
            )
            for chunk in batches
        ],
        BULK_TARGET_MS,
        warmup=1,
        on_response=lambda r: changed.append(
            int(m.group(1).replace(",", "")) if (m := _APPROVED.search(r.text)) else None
        ),
    )
    result.notes.append(f"oldest pending first; approved per request: {changed[1:]}")
    if changed != [len(chunk) for chunk in batches]:
        raise BenchError(f"Bulk approve changed {changed}, not {batch:,} each")
    return result


# --------------------------------------------------------------------------- report


def print_report(database, seeded, counts, results):
    print()
    print(
        f"Database: {database.kind}  ·  incomplete orders: {counts['incomplete_orders']:,}  ·  "
        f"orders: {counts['orders']:,}  ·  return requests: {counts['return_requests']:,} "
        f"({counts['pending']:,} pending as seeded)  ·  {machine()}"
    )
    print(
        f"Seeding: seed-demo {seeded.seed_demo_seconds:.1f} s, top-up {seeded.top_up_seconds:.1f} s"
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
    print_table(["scenario", "p50 ms", "p95 ms", "max ms", "target", "ok?"], rows)
    print()
    for r in results:
        for note in r.notes:
            print(f"- {r.scenario}: {note}")
    return all(r.ok for r in results)


def benchmark(args, cleanup):
    database = fresh_database(
        args.database_name, cleanup, keep=args.keep, reuse_url=args.database_url
    )
    env = app_environment(database.url, API_RATE_LIMIT_PER_MINUTE=RATE_LIMIT)
    app = in_process_app(background_checkpoints=False)
    picker = DataPicker(database.url)
    cleanup.callback(picker.close)
    if database.reused:
        migrate(app)
        seeded = Seeded(0.0, 0.0, picker.api_customers(API_WARMUP + args.api_requests))
    else:
        seeded = seed(app, args)
    create_staff(app, STAFF_EMAIL, STAFF_PASSWORD, check=not database.reused)
    key = issue_api_key(app, "Bench storefront", STAFF_EMAIL)
    dispose(app)

    counts = picker.counts()
    log(
        f"{counts['return_requests']:,} return requests ({counts['pending']:,} pending), "
        f"{counts['orders']:,} orders, {counts['incomplete_orders']:,} incomplete orders"
    )
    server = cleanup.enter_context(Gunicorn(env))
    client = Client(server.port)
    client.sign_in(STAFF_EMAIL, STAFF_PASSWORD)

    results = bench_reads(client, picker, args.repeat)
    results.append(bench_api(server.port, key, seeded.customers))
    results.append(bench_bulk(client, picker, args.bulk_size))
    return 0 if print_report(database, seeded, counts, results) else 1


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
