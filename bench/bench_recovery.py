"""Benchmark the recovery run over many due carts, and outbox delivery over SMTP.

What it does, in this process (no web server):

1. Makes a fresh database: a SQLite file in a temp dir, or, when DATABASE_URL is a
   ``postgresql+psycopg://`` URL, a fresh ``reclaim_bench_recovery`` database on that
   server (dropped at the end). Migrates it with ``flask db upgrade``.
2. For each ``--carts`` size: empties the tables, inserts that many carts that are due
   their first recovery email (open, with an email, quiet for two days, no email sent
   yet, 1–3 items), then times ``dashboard.recovery.service.send_due`` over all of them,
   counting SQL statements with a ``before_cursor_execute`` listener. The statements
   should grow with batches (``service.BATCH`` carts each), not with carts.
3. Empties the tables, queues ``--messages`` real recovery emails the same way, and times
   ``dashboard.outbox.service.deliver_due`` in a loop (as the delivery job does) to an
   SMTP server on 127.0.0.1 (aiosmtpd in a process of its own, counting what it accepts).
4. Prints a Markdown table against the targets, and for each scenario where its time
   went: statements by kind, COMMIT, and the functions it calls, timed from outside.

Usage (from the project root, with the project's venv):

    .venv/bin/python bench/bench_recovery.py                        # SQLite
    .venv/bin/python bench/bench_recovery.py --carts 1000 --messages 500   # quick
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_recovery.py                    # fresh PostgreSQL db
    .venv/bin/python bench/bench_recovery.py --profile              # + cProfile top functions

Progress goes to stderr, the report to stdout. Everything talks to 127.0.0.1 only.
Exit code 0: targets met; 1: a target missed; 2: could not run, or a check failed.
"""

import argparse
import cProfile
import functools
import io
import os
import pstats
import random
import re
import smtplib
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import flask_mail
from sqlalchemy import event, func, select, text

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from bench_workspace import (  # noqa: E402
    PROJECT_ROOT,
    BenchError,
    app_env,
    free_port,
    log,
    run_flask,
)
from common import fresh_database  # noqa: E402

BENCH_DB_NAME = "reclaim_bench_recovery"
RECOVERY_TARGET_SECONDS = 20  # for 100,000 due carts
TARGET_CARTS = 100_000
DELIVERY_TARGET_PER_SECOND = 200
DELIVERY_LIMIT = 500  # messages claimed per deliver_due call, as the delivery job does
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
PRODUCTS = [
    ("MER-NAV-M", "Merino crew sweater — Navy / M", 8900),
    ("LIN-WHI-L", "Linen shirt — White / L", 5900),
    ("CHI-SAN-32", "Chino trousers — Sand / 32", 7400),
    ("CAN-BLA-42", "Canvas sneakers — Black / 42", 6500),
    ("RAI-OLI-M", "Rain jacket — Olive / M", 14900),
    ("WOO-GRE", "Wool beanie — Grey", 2400),
]
FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas")
LAST_NAMES = ("Mueller", "Schmidt", "Fischer", "Weber", "Wagner", "Kaya", "Novak", "Rossi")


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
    from dashboard.demo.generator import CART_COLUMNS, ITEM_COLUMNS
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
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            values = {
                "id": cart_id,
                "cart_id": f"bench-{cart_id}",
                "customer_id": None,
                "guest_session": f"guest-{cart_id}",
                "email": f"customer{cart_id}@example.com",
                "phone": None,
                "name": name,
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
        connection.execute(text("ANALYZE"))
    log(f"  seeded {count:,} due carts in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- measuring


def statement_kind(sql):
    """ "SELECT incomplete_orders", "INSERT outbox_messages", "BEGIN", ..."""
    words = sql.split()
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE"):
        return f"{verb} {words[2]}"
    if verb == "UPDATE":
        return f"{verb} {words[1]}"
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+(\w+)", sql)
        return f"{verb} {table.group(1) if table else ''}".strip()
    return verb


class Meter:
    """Counts the SQL statements sent to the database (an executemany counts once) and
    times them by kind; times COMMITs at the dialect and the calls of chosen functions,
    patched in from here (the app's code is not changed).

    Each part's time is its own: a timed function's time leaves out the statements,
    commits and other timed functions inside it, so the parts add up, and what no timer
    saw is reported as everything else.
    """

    def __init__(self, engine, functions=()):
        self.engine = engine
        self.functions = functions  # (owner, attribute name, label[, adapt the original])
        self.statements = 0
        self.seconds = Counter()  # part -> its own seconds
        self.calls = Counter()  # part -> how many
        self._accounted = 0.0  # seconds already given to some part
        self._patched = []

    def _before(self, connection, cursor, statement, parameters, context, executemany):
        connection.info["bench_started"] = time.perf_counter(), self._accounted

    def _after(self, connection, cursor, statement, parameters, context, executemany):
        self.statements += 1
        self._add(f"SQL {statement_kind(statement)}", *connection.info.pop("bench_started"))

    def _add(self, part, started, inner_before):
        own = time.perf_counter() - started - (self._accounted - inner_before)
        self.seconds[part] += own
        self.calls[part] += 1
        self._accounted += own

    def _timed(self, part, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started, inner_before = time.perf_counter(), self._accounted
            try:
                return function(*args, **kwargs)
            finally:
                self._add(part, started, inner_before)

        return timed

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        targets = [(self.engine.dialect, "do_commit", "COMMIT"), *self.functions]
        for owner, name, part, *adapt in targets:
            original = getattr(owner, name)
            self._patched.append((owner, name, original, name in vars(owner)))
            function = adapt[0](original) if adapt else original
            setattr(owner, name, self._timed(part, function))
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        for owner, name, original, own in reversed(self._patched):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # back to the inherited one

    def breakdown(self, total, top_sql=6):
        """(part, seconds, calls), most time first; SQL kinds beyond the `top_sql` slowest
        summed up; then what no timer saw."""
        sql = [p for p, _ in self.seconds.most_common() if p.startswith("SQL ")]
        rows = [(p, s, self.calls[p]) for p, s in self.seconds.items() if p not in sql[top_sql:]]
        if sql[top_sql:]:
            rest = sql[top_sql:]
            seconds = sum(self.seconds[p] for p in rest)
            rows.append(("SQL, other kinds", seconds, sum(self.calls[p] for p in rest)))
        rows.sort(key=lambda row: -row[1])
        rows.append(("everything else", total - sum(self.seconds.values()), None))
        return rows


class Fetched(list):
    """A query's result, already fetched (ORM objects built, eager loads run)."""

    def all(self):
        return list(self)


def fetching(scalars):
    """session.scalars that fetches its rows at once, so their loading can be timed."""

    @functools.wraps(scalars)
    def fetch(*args, **kwargs):
        return Fetched(scalars(*args, **kwargs))

    return fetch


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


def profiled(enabled, label, function):
    """Run `function`, under cProfile if enabled (then log its top functions)."""
    if not enabled:
        return function()
    profile = cProfile.Profile()
    value = profile.runcall(function)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    log(f"\n--- profile: {label} ---\n{out.getvalue()}")
    return value


def bench_recovery_run(db, carts, profile):
    from dashboard.audit.service import Actor
    from dashboard.outbox.models import OutboxMessage
    from dashboard.recovery import service

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
            f"send_due over {carts:,} carts",
            lambda: service.send_due(Actor.system("bench")),
        )
        seconds = time.perf_counter() - started
    queued = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    db.session.commit()
    if result.sent != carts or queued != carts:
        raise BenchError(
            f"send_due queued {result.sent:,} ({queued:,} in the outbox), not {carts:,}"
        )
    batches = -(-carts // service.BATCH)
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
        f"{batches:,} batches of {service.BATCH:,}: "
        f"{meter.statements / batches:.1f} statements per batch"
    )
    log(f"  {row.scenario}: {seconds:.2f} s, {meter.statements:,} statements")
    return row


def bench_delivery(db, messages, sink, profile):
    from dashboard.audit.service import Actor
    from dashboard.outbox import mailer
    from dashboard.outbox import service as outbox
    from dashboard.outbox.models import OutboxMessage
    from dashboard.recovery import emails as recovery_emails
    from dashboard.recovery import service

    empty_tables(db)
    seed_due_carts(db, messages)
    queued = service.send_due(Actor.system("bench")).sent
    if queued != messages:
        raise BenchError(f"Queued {queued:,} emails, not {messages:,}")

    def deliver_all():
        totals = {"sent": 0, "retry": 0, "failed": 0, "withdrawn": 0}
        while True:
            counts = outbox.deliver_due(DELIVERY_LIMIT)
            for outcome, n in counts.items():
                totals[outcome] += n
            if not sum(counts.values()):
                return totals

    # One after the other for each message: write it, build it, serialise it (MIME), hand
    # it over.
    timed = [
        (db.session, "scalars", "load claimed messages and their carts (ORM)", fetching),
        (recovery_emails, "recovery_email", "recovery_email() (templates, tokens, links)"),
        (mailer, "build_message", "build_message() (Flask-Mail Message)"),
        (flask_mail.Message, "as_bytes", "Message.as_bytes() (MIME)"),
        (smtplib.SMTP, "sendmail", "SMTP.sendmail() (to the server and back)"),
        (outbox, "_finish", "_finish() (mark sent)"),
    ]
    with Meter(db.engine, timed) as meter:
        started = time.perf_counter()
        totals = profiled(profile, f"delivering {messages:,} emails", deliver_all)
        seconds = time.perf_counter() - started
    unsent = db.session.scalar(select(func.count()).where(OutboxMessage.status != "sent"))
    db.session.commit()
    received = sink.messages
    if totals["sent"] != messages or received != messages or unsent:
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
        f"deliver_due({DELIVERY_LIMIT}) in a loop, as the delivery job does; "
        "the SMTP server runs in a process of its own"
    )
    log(f"  {row.scenario}: {seconds:.2f} s, {meter.statements:,} statements")
    return row


# --------------------------------------------------------------------------- report


def print_report(database, results):
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print()
    print(f"Database: {database.kind}  ·  {os.cpu_count()} CPUs, load average {load}")
    print()
    print("| scenario | seconds | per second | SQL statements | per 1,000 | target | ok? |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for r in results:
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        print(
            f"| {r.scenario} | {r.seconds:.2f} | {r.per_second:,.0f} {r.unit} "
            f"| {r.statements:,} | {r.statements_per_thousand:.1f} | {r.target} | {ok} |"
        )
    print()
    for r in results:
        for note in r.notes:
            print(f"- {r.scenario}: {note}")
    for r in results:
        print()
        print(f"Where the time of the {r.scenario} goes:")
        print()
        print("| part | seconds | share | calls |")
        print("| --- | ---: | ---: | ---: |")
        for part, seconds, calls in r.breakdown:
            share = 100 * seconds / r.seconds
            calls = "" if calls is None else f"{calls:,}"
            print(f"| {part} | {seconds:.2f} | {share:.0f}% | {calls} |")


def main(argv=None):
    args = parse_args(argv)
    database = sink = None
    try:
        database = fresh_database(BENCH_DB_NAME)
        env = app_env(database.url)
        run_flask(env, "db", "upgrade")

        sink = SmtpSink()
        env.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port))
        os.environ.update(env)  # config.py reads the environment when it is imported
        sys.path.insert(0, str(PROJECT_ROOT))
        from config import Config
        from dashboard import create_app
        from dashboard.extensions import db

        results = []
        # The base settings, as in production: no debug mode, so no template reloading.
        with create_app(Config).app_context():  # one session for the whole run, like a job
            for carts in sorted(args.carts):
                log(f"Recovery run over {carts:,} due carts ...")
                profile = args.profile and carts == max(args.carts)
                results.append(bench_recovery_run(db, carts, profile))
            log(f"Delivering {args.messages:,} emails to 127.0.0.1:{sink.port} ...")
            results.append(bench_delivery(db, args.messages, sink, args.profile))
            db.session.remove()
            db.engine.dispose()
        print_report(database, results)
        return 0 if all(r.ok is not False for r in results) else 1
    except BenchError as error:
        log(f"\nBENCHMARK FAILED: {error}")
        return 2
    finally:
        if sink is not None:
            sink.stop()
        if database is not None:
            database.cleanup()


if __name__ == "__main__":
    sys.exit(main())
