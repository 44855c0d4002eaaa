"""What bench_ingest.py and bench_recovery.py share: a fresh database to run against."""

import os
import shutil
import tempfile
from dataclasses import dataclass

from bench_workspace import BenchError, database_kind, log, postgres_connect_args, require_local
from sqlalchemy.engine import make_url


@dataclass
class FreshDatabase:
    url: str
    kind: str  # "SQLite" or "PostgreSQL"
    name: str  # of the PostgreSQL database
    temp_dir: str | None = None

    def cleanup(self, keep=False):
        if keep:
            log(f"Kept the database: {self.url}")
        elif self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        elif self.kind == "PostgreSQL":
            recreate_postgres_database(self.url, self.name, create=False)


def fresh_database(name):
    """A SQLite file in a temp dir, or, when DATABASE_URL is a ``postgresql+psycopg://``
    URL (on this machine), a fresh database called `name` on that server."""
    server_url = os.environ.get("DATABASE_URL", "")
    if server_url.startswith("postgresql+psycopg://"):
        require_local(server_url)
        log(f"Creating a fresh PostgreSQL database {name} ...")
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        recreate_postgres_database(url, name, create=True)
        return FreshDatabase(url, database_kind(url), name)
    temp_dir = tempfile.mkdtemp(prefix=f"{name.replace('_', '-')}-")
    return FreshDatabase(f"sqlite:///{temp_dir}/bench.sqlite3", "SQLite", name, temp_dir)


def recreate_postgres_database(url, name, create):
    """Drop the database `name` (ending leftover sessions), then create it if asked."""
    import psycopg

    try:
        with psycopg.connect(**postgres_connect_args(url, "postgres"), autocommit=True) as conn:
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(f"DROP DATABASE IF EXISTS {name}{force}")
            if create:
                conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as error:
        raise BenchError(f"Cannot (re)create {name} on the server: {error}") from None
