"""A lease row in the database elects the one process that runs the scheduled jobs.

Works the same on SQLite and PostgreSQL: taking or renewing the lease is one conditional
UPDATE (… WHERE holder = me OR expires_at < now), and the first holder is an INSERT that a
primary key lets only one process win.

try_acquire and release are the scheduler's: they own their transactions (each commits).
current and holds only read, in the caller's transaction.
"""

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dashboard.extensions import db
from dashboard.jobs.models import JobRun, SchedulerLease
from dashboard.timeutil import utcnow

LEASE_NAME = "scheduler"


def process_identity():
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def try_acquire(holder, ttl_seconds, now=None):
    """Take or renew the lease; True when `holder` holds it until now + ttl.

    Taking over from a holder that stopped renewing (it died) also ends the runs it left
    "running": they are marked interrupted, not left running forever on /jobs/.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    lapsed = db.session.scalar(
        select(SchedulerLease.holder).where(
            SchedulerLease.name == LEASE_NAME,
            SchedulerLease.holder != holder,
            SchedulerLease.expires_at < now,
        )
    )
    renewed = db.session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == LEASE_NAME,
            (SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
        .execution_options(synchronize_session=False)
    ).rowcount
    if renewed:
        if lapsed is not None:
            _interrupt_runs(lapsed, holder, now)
        db.session.commit()
        return True
    # The very first holder; the primary key lets one process win, quietly.
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = db.session.execute(
        insert(SchedulerLease.__table__)
        .values(name=LEASE_NAME, holder=holder, acquired_at=now, expires_at=expires)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(SchedulerLease.__table__.c.name)
    ).first()
    db.session.commit()
    return inserted is not None


def _interrupt_runs(lapsed, holder, now):
    db.session.execute(
        update(JobRun)
        .where(JobRun.holder == lapsed, JobRun.outcome == "running")
        .values(
            outcome="interrupted",
            finished_at=now,
            error=f"{lapsed} stopped renewing the scheduler lease; {holder} took over",
        )
        .execution_options(synchronize_session=False)
    )


def holds(holder, now=None):
    now = now or utcnow()
    lease = current()
    return lease is not None and lease.holder == holder and lease.expires_at > now


def current():
    """The lease row, detached (readable after the transaction ends), or None."""
    lease = db.session.scalar(select(SchedulerLease).where(SchedulerLease.name == LEASE_NAME))
    if lease is not None:
        db.session.expunge(lease)
    return lease


def release(holder):
    db.session.execute(
        delete(SchedulerLease).where(
            SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == holder
        )
    )
    db.session.commit()
