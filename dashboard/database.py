"""Per-connection database settings.

SQLite: WAL, foreign keys and a busy timeout are per connection. A transaction that
reads and later writes can fail with "database is locked" even with a timeout, so
transactions that may write start with BEGIN IMMEDIATE; read-only requests (GET/HEAD)
start a plain deferred transaction and never wait on a writer.
"""

from contextvars import ContextVar

from sqlalchemy import event

# True when the current unit of work may write. Requests set it from their method;
# CLI commands and background jobs keep the default.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


def configure_engine(engine):
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
