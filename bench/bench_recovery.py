"""Benchmark the recovery run over many due carts, and outbox delivery over SMTP.

In this process (no web server), with the base settings (no debug, so no template
reloading), on a fresh database (SQLite temp file, or ``reclaim_bench_recovery`` on the
PostgreSQL server that DATABASE_URL names, dropped at the end):

1. For each ``--carts`` size: empties the tables, inserts that many carts due their first
   recovery email (open, with an email, quiet for two days, 1–3 of the demo data's
   products), then times ``dashboard.recovery.runner.run_recovery`` over all of them. Its
   SQL statements should grow with batches (``runner.BATCH`` carts each), not with carts.
2. Empties the tables, queues ``--messages`` recovery emails the same way, and times
   ``dashboard.outbox.delivery.delivery_run`` (what the delivery job runs) to an SMTP
   server on 127.0.0.1 (aiosmtpd in a process of its own, counting what it accepts).
3. Prints a Markdown table against the targets, and for each scenario where its time
   went: statements by kind, COMMIT, and the functions it calls, timed from outside.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_recovery.py                        # SQLite
    .venv/bin/python bench/bench_recovery.py --carts 1000 --messages 500   # quick
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_recovery.py                    # fresh PostgreSQL db
    .venv/bin/python bench/bench_recovery.py --profile              # + cProfile top functions
"""

import argparse
import random
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta

from common import (
    BenchError,
    Meter,
    app_environment,
    free_port,
    fresh_database,
    in_process_app,
    log,
    machine,
    migrate,
    print_table,
    profiled,
    run,
    settle,
    yes_no,
)
from sqlalchemy import func, select, text

BENCH_DB_NAME = "reclaim_bench_recovery"
RECOVERY_TARGET_SECONDS = 20  # for 100,000 due carts
TARGET_CARTS = 100_000
DELIVERY_TARGET_PER_SECOND = 200
DELIVERY_LIMIT = 500  # messages claimed per round, as the delivery job does
SEED_BATCH = 20_000
# Tables a scenario writes to; emptied before each one.
TABLES = (
    "audit_event_targets",
    "audit_events",
    "outbox_messages",
    "recovery_attempts",
    "incomplete_order_items",
    "incomplete_orders",
    "job_runs",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--carts",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="due carts per recovery run, one run per size (default 10000 100000)",
    )
    parser.add_argument(
        "--messages", type=int, default=5_000, help="emails to deliver (default 5,000)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the largest recovery run and the delivery (cProfile, top functions)",
    )
    args = parser.parse_args(argv)
    if min(args.carts) < 1 or args.messages < 1:
        parser.error("--carts and --messages must be at least 1")
    return args


# --------------------------------------------------------------------------- database


def empty_tables(db):
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))


def seed_due_carts(db, count):
    """`count` open carts with an email, quiet for two days, no recovery email yet."""
    from dashboard.demo.commands import BulkWriter
    from dashboard.demo.generator import (
        CART_COLUMNS,
        FIRST_NAMES,
        ITEM_COLUMNS,
        LAST_NAMES,
        PRODUCTS,
    )
    from dashboard.timeutil import utcnow

    rng = random.Random(count)
    now = utcnow()
    started = time.perf_counter()
    for first in range(1, count + 1, SEED_BATCH):
        carts, items = [], []
        for cart_id in range(first, min(first + SEED_BATCH, count + 1)):
            quiet_since = now - timedelta(days=2, minutes=rng.randrange(600))
            lines = rng.sample(PRODUCTS, rng.randint(1, 3))
            quantities = [rng.choice((1, 1, 1, 2)) for _ in lines]
            values = {
                "id": cart_id,
                "cart_id": f"bench-{cart_id}",
                "customer_id": None,
                "guest_session": f"guest-{cart_id}",
                "email": f"customer{cart_id}@example.com",
                "phone": None,
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "stage": "checkout",
                "status": "open",
                "currency": "EUR",
                "subtotal": sum(
                    q * price for q, (_, _, price) in zip(quantities, lines, strict=True)
                ),
                "item_count": sum(quantities),
                "recovery_attempts": 0,
                "created_at": quiet_since - timedelta(minutes=20),
                "updated_at": quiet_since,
                "last_activity_at": quiet_since,
                "status_changed_at": quiet_since - timedelta(minutes=20),
                "recovery_last_sent_at": None,
            }
            carts.append(tuple(values[column] for column in CART_COLUMNS))
            items += [
                (cart_id, sku, title, q, price)
                for q, (sku, title, price) in zip(quantities, lines, strict=True)
            ]
        with db.engine.begin() as connection:
            writer = BulkWriter(connection)
            writer.insert("incomplete_orders", CART_COLUMNS, carts)
            writer.insert("incomplete_order_items", ITEM_COLUMNS, items)
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('incomplete_orders', 'id'), "
                    "(SELECT max(id) FROM incomplete_orders))"
                )
            )
    settle(db.engine.url.render_as_string(hide_password=False))
    log(f"  seeded {count:,} due carts in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- SMTP server


SINK_SCRIPT = """
import sys
from aiosmtpd.controller import Controller

class Sink:
    messages = 0

    async def handle_DATA(self, server, session, envelope):
        Sink.messages += 1
        return "250 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
for _ in sys.stdin:  # each line asks how many messages it took
    print(Sink.messages, flush=True)
controller.stop()
"""


class SmtpSink:
    """An SMTP server on 127.0.0.1 that accepts and counts every message, in a process of
    its own so that it does not compete with the app for this process's GIL."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SINK_SCRIPT, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise BenchError("The SMTP sink did not start")

    @property
    def messages(self):
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --------------------------------------------------------------------------- scenarios


@dataclass
class Result:
    scenario: str
    size: int
    unit: str  # carts | messages
    seconds: float
    statements: int
    target: str
    ok: bool | None  # None: no target for this row
    notes: list = field(default_factory=list)
    breakdown: list = field(default_factory=list)

    @property
    def per_second(self):
        return self.size / self.seconds

    @property
    def statements_per_thousand(self):
        return self.statements * 1000 / self.size


def bench_recovery_run(db, carts, profile):
    from dashboard.audit.service import Actor
    from dashboard.outbox.models import OutboxMessage
    from dashboard.recovery import runner, service

    empty_tables(db)
    seed_due_carts(db, carts)
    timed = [
        # The emails' content is written at delivery: a run only claims and queues.
        (service, "outbox_row", "outbox_row()"),
        (service, "record_bulk", "record_bulk() (the batch's audit event)"),
    ]
    with Meter(db.engine, timed) as meter:
        started = time.perf_counter()
        result = profiled(
            profile,
            f"run_recovery over {carts:,} carts",
            lambda: runner.run_recovery(Actor.system("bench")),
        )
        seconds = time.perf_counter() - started
    queued = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    db.session.commit()
    if result.sent != carts or queued != carts:
        raise BenchError(
            f"run_recovery queued {result.sent:,} ({queued:,} in the outbox), not {carts:,}"
        )
    batches = -(-carts // runner.BATCH)
    ok = seconds < RECOVERY_TARGET_SECONDS if carts == TARGET_CARTS else None
    row = Result(
        f"recovery run, {carts:,} due carts",
        carts,
        "carts",
        seconds,
        meter.statements,
        f"< {RECOVERY_TARGET_SECONDS} s for {TARGET_CARTS:,}" if ok is not None else "",
        ok,
        breakdown=meter.breakdown(seconds),
    )
    row.notes.append(
        f"{batches:,} batch{'es' if batches != 1 else ''} of {runner.BATCH:,}: "
        f"{meter.statements / batches:.1f} statements per batch"
    )
    log(f"  {row.scenario}: {seconds:.2f} s, {meter.statements:,} statements")
    return row


def bench_delivery(db, messages, sink, profile):
    import flask_mail

    from dashboard.audit.service import Actor
    from dashboard.outbox import delivery, mailer
    from dashboard.outbox.models import OutboxMessage
    from dashboard.recovery import emails, runner

    empty_tables(db)
    seed_due_carts(db, messages)
    queued = runner.run_recovery(Actor.system("bench")).sent
    if queued != messages:
        raise BenchError(f"Queued {queued:,} emails, not {messages:,}")

    # One after the other for each message: write it, build it, serialise it (MIME), hand
    # it over; reading the batch's carts is render()'s own time.
    timed = [
        (delivery, "render", "render() (the batch's carts, ORM)"),
        (emails, "recovery_email", "recovery_email() (templates, tokens, links)"),
        (mailer, "build_message", "build_message() (Flask-Mail Message)"),
        (flask_mail.Message, "as_bytes", "Message.as_bytes() (MIME)"),
        (smtplib.SMTP, "sendmail", "SMTP.sendmail() (to the server and back)"),
    ]
    with Meter(db.engine, timed) as meter:
        started = time.perf_counter()
        totals = profiled(
            profile,
            f"delivering {messages:,} emails",
            lambda: delivery.delivery_run(DELIVERY_LIMIT),
        )
        seconds = time.perf_counter() - started
    unsent = db.session.scalar(select(func.count()).where(OutboxMessage.status != "sent"))
    db.session.commit()
    received = sink.messages
    if totals.get("sent") != messages or received != messages or unsent:
        raise BenchError(
            f"Delivery: {totals}, the server took {received:,}, {unsent:,} rows not sent"
        )
    row = Result(
        f"outbox delivery, {messages:,} emails",
        messages,
        "messages",
        seconds,
        meter.statements,
        f">= {DELIVERY_TARGET_PER_SECOND} messages/s",
        messages / seconds >= DELIVERY_TARGET_PER_SECOND,
        breakdown=meter.breakdown(seconds),
    )
    row.notes.append(
        f"delivery_run({DELIVERY_LIMIT}), as the delivery job runs it; "
        "the SMTP server runs in a process of its own"
    )
    log(f"  {row.scenario}: {seconds:.2f} s, {meter.statements:,} statements")
    return row


# --------------------------------------------------------------------------- report


def print_report(database, results):
    print()
    print(f"Database: {database.kind}  ·  {machine()}")
    print()
    print_table(
        ["scenario", "seconds", "per second", "SQL statements", "per 1,000", "target", "ok?"],
        [
            [
                r.scenario,
                f"{r.seconds:.2f}",
                f"{r.per_second:,.0f} {r.unit}",
                f"{r.statements:,}",
                f"{r.statements_per_thousand:.1f}",
                r.target,
                yes_no(r.ok),
            ]
            for r in results
        ],
    )
    print()
    for r in results:
        for note in r.notes:
            print(f"- {r.scenario}: {note}")
    for r in results:
        print()
        print(f"Where the time of the {r.scenario} goes:")
        print()
        print_table(
            ["part", "seconds", "share", "calls"],
            [
                [
                    part,
                    f"{seconds:.2f}",
                    f"{100 * seconds / r.seconds:.0f}%",
                    "" if calls is None else f"{calls:,}",
                ]
                for part, seconds, calls in r.breakdown
            ],
        )


def benchmark(args, cleanup):
    database = fresh_database(BENCH_DB_NAME, cleanup)
    sink = SmtpSink()
    cleanup.callback(sink.stop)
    app_environment(database.url, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
    from dashboard.extensions import db

    app = in_process_app()
    migrate(app)
    results = []
    with app.app_context():  # one session for the whole run, like a job
        try:
            for carts in sorted(args.carts):
                log(f"Recovery run over {carts:,} due carts ...")
                profile = args.profile and carts == max(args.carts)
                results.append(bench_recovery_run(db, carts, profile))
            log(f"Delivering {args.messages:,} emails to 127.0.0.1:{sink.port} ...")
            results.append(bench_delivery(db, args.messages, sink, args.profile))
        finally:
            db.session.remove()
            db.engine.dispose()
    print_report(database, results)
    return 0 if all(r.ok is not False for r in results) else 1


def main(argv=None):
    args = parse_args(argv)
    return run(lambda cleanup: benchmark(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
