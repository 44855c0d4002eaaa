import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, text

from dashboard.demo.generator import (
    ATTEMPT_COLUMNS,
    CART_COLUMNS,
    DAYS,
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    ORDER_ITEM_COLUMNS,
    OUTBOX_COLUMNS,
    RETURN_COLUMNS,
    RETURN_EVENT_COLUMNS,
    RETURN_LINE_COLUMNS,
    RETURN_NOTE_COLUMNS,
    STEP_DELAYS,
    DemoGenerator,
)
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order, OrderItem
from dashboard.recovery.emails import recovery_subject
from dashboard.returns.models import ReturnRequest

BATCH = 20_000


class BulkWriter:
    """Fast inserts through the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, connection):
        self.dialect = connection.dialect.name
        self.raw = connection.connection.driver_connection

    def insert(self, table, columns, rows):
        if not rows:
            return
        if self.dialect == "postgresql":
            with (
                self.raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        # SQLite: store datetimes the way SQLAlchemy does, so comparisons stay textual.
        rows = [
            tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if hasattr(v, "strftime") else v for v in row)
            for row in rows
        ]
        marks = ", ".join("?" * len(columns))
        cursor = self.raw.cursor()
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        cursor.close()


@click.command("seed-demo")
@click.option(
    "--orders",
    "count",
    type=click.IntRange(1, 10_000_000),
    default=2_000,
    show_default=True,
    help="How many incomplete orders to create.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Random seed: the same seed gives the same data.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=DAYS,
    show_default=True,
    help="How many days, ending today, the carts are spread over.",
)
@click.option("--append", is_flag=True, help="Add to a database that already has data.")
@with_appcontext
def seed_demo_command(count, seed, days, append):
    """Fill the database with realistic demo incomplete orders and orders."""
    existing = db.session.scalar(select(func.count()).select_from(IncompleteOrder))
    if existing and not append:
        raise click.ClickException(
            f"The database already has {existing:,} incomplete orders. Use --append to add more."
        )
    first_id = (db.session.scalar(select(func.max(IncompleteOrder.id))) or 0) + 1
    first_order_id = (db.session.scalar(select(func.max(Order.id))) or 0) + 1
    first_order_item_id = (db.session.scalar(select(func.max(OrderItem.id))) or 0) + 1
    first_return_id = (db.session.scalar(select(func.max(ReturnRequest.id))) or 0) + 1
    db.session.commit()
    generator = DemoGenerator(
        seed,
        count,
        first_id,
        first_order_id,
        current_app.config["SHOP_CURRENCY"],
        first_order_item_id,
        first_return_id,
        days,
        subjects={step: recovery_subject(step) for step in range(1, len(STEP_DELAYS) + 1)},
    )
    started = time.monotonic()
    done = converted = returned = 0
    while done < count:
        size = min(BATCH, count - done)
        carts, items, orders, order_items, attempts, emails = generator.batch(size)
        with db.engine.begin() as connection:
            writer = BulkWriter(connection)
            writer.insert("incomplete_orders", CART_COLUMNS, carts)
            writer.insert("incomplete_order_items", ITEM_COLUMNS, items)
            writer.insert("orders", ORDER_COLUMNS, orders)
            writer.insert("order_items", ORDER_ITEM_COLUMNS, order_items)
            writer.insert("recovery_attempts", ATTEMPT_COLUMNS, attempts)
            writer.insert("outbox_messages", OUTBOX_COLUMNS, emails)
            requests, lines, events, notes = generator.returns.take()
            writer.insert("return_requests", RETURN_COLUMNS, requests)
            writer.insert("return_lines", RETURN_LINE_COLUMNS, lines)
            writer.insert("return_events", RETURN_EVENT_COLUMNS, events)
            writer.insert("return_notes", RETURN_NOTE_COLUMNS, notes)
        done += size
        returned += len(requests)
        converted += len(orders)
        if done % 100_000 == 0 or done == count:
            click.echo(f"  {done:,} incomplete orders ({time.monotonic() - started:.0f} s)")
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in ("incomplete_orders", "orders", "order_items", "return_requests"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
        # Fresh statistics, so the query planner picks the indexes the lists rely on.
        connection.execute(text("ANALYZE"))
    click.echo(
        f"Seeded {count:,} incomplete orders ({converted:,} converted into orders, "
        f"{returned:,} return requests) with seed {seed} in {time.monotonic() - started:.1f} s."
    )
