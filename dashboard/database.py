"""Per-connection database settings.

SQLite: WAL, foreign keys and a busy timeout are per connection. A transaction that
reads and later writes can fail with "database is locked" even with a timeout, so
transactions that may write start with BEGIN IMMEDIATE; read-only requests (GET/HEAD)
start a plain deferred transaction and never wait on a writer.

A web process does not checkpoint the WAL inside the commit that happens to cross the
threshold (a bulk action would pay for copying everyone's pages back); a background
thread checkpoints every second instead, without blocking readers or writers.
"""

import logging
import sqlite3
import threading
from contextvars import ContextVar

from sqlalchemy import event

log = logging.getLogger(__name__)

# True when the current unit of work may write. Requests set it from their method;
# CLI commands and background jobs keep the default.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)

SQLITE_CACHE_KIB = 32 * 1024
CHECKPOINT_SECONDS = 1.0


def configure_engine(engine, background_checkpoints=False):
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event below emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA journal_size_limit=67108864")  # shrink the WAL after checkpoints
        if background_checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")

    if background_checkpoints and engine.url.database not in (None, "", ":memory:"):
        threading.Thread(
            target=_checkpoint_forever, args=(engine,), name="sqlite-checkpoint", daemon=True
        ).start()


def _checkpoint_forever(engine):
    # A plain connection in autocommit mode: a checkpoint cannot run inside a transaction.
    connection = sqlite3.connect(engine.url.database, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=1000")
    stop = threading.Event()
    while not stop.wait(CHECKPOINT_SECONDS):
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.exception("WAL checkpoint failed; trying again in a second")
