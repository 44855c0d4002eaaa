"""Cleaning up: expire stale open carts, delete old expired and cancelled ones.

A runner: it owns its transaction (one, committed at the end) and is called by the
scheduler and the CLI, never from a view.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, text, update

from dashboard.audit.service import record, record_bulk
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.timeutil import utcnow
from dashboard.transaction import run_in_transaction


@dataclass
class CleanupResult:
    expired: int
    deleted: int


def cleanup(actor, days=None, now=None, dry_run=False):
    """Expire open carts quiet for `days` (default EXPIRE_AFTER_DAYS); delete expired and
    cancelled carts whose status is older than RETENTION_DAYS, with their items, notes and
    recovery attempts. Converted carts are kept: their orders point at them."""
    now = now or utcnow()
    days = current_app.config["EXPIRE_AFTER_DAYS"] if days is None else days
    if dry_run:
        result = preview(days, now)
        db.session.rollback()  # end the read
        return result
    stale, old = _conditions(days, now)
    result = run_in_transaction(_expire_and_purge, actor, stale, old, days, now)
    _refresh_planner_statistics()
    return result


def _refresh_planner_statistics():
    """SQLite plans from the statistics ANALYZE keeps (PostgreSQL's autovacuum keeps its
    own): refreshed daily, the list's partial indexes (paused carts) stay in use."""
    if db.session.get_bind().dialect.name == "sqlite":
        # A sample of each index: seconds at most, even at a million carts.
        db.session.execute(text("PRAGMA analysis_limit=1000"))
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def preview(days=None, now=None):
    """What a clean-up would do now, counted; reads only (in the caller's transaction)."""
    now = now or utcnow()
    days = current_app.config["EXPIRE_AFTER_DAYS"] if days is None else days

    def count(condition):
        return db.session.scalar(select(func.count()).select_from(IncompleteOrder).where(condition))

    stale, old = _conditions(days, now)
    return CleanupResult(count(stale), count(old))


def _conditions(days, now):
    stale = (IncompleteOrder.status == "open") & (
        IncompleteOrder.last_activity_at < now - timedelta(days=days)
    )
    old = IncompleteOrder.status.in_(("expired", "cancelled")) & (
        IncompleteOrder.status_changed_at
        < now - timedelta(days=current_app.config["RETENTION_DAYS"])
    )
    return stale, old


def _expire_and_purge(actor, stale, old, days, now):
    deleted = db.session.execute(
        delete(IncompleteOrder).where(old).execution_options(synchronize_session=False)
    ).rowcount
    expired_ids = (
        db.session.execute(
            update(IncompleteOrder)
            .where(stale)
            .values(status="expired", status_changed_at=now)
            .returning(IncompleteOrder.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if expired_ids:
        record_bulk(
            actor,
            "incomplete_order.bulk_expire",
            "incomplete_order",
            expired_ids,
            selection={"quiet_days": days},
        )
    if deleted:
        record(
            actor,
            "incomplete_order.purge",
            "incomplete_order",
            None,
            count=deleted,
            retention_days=current_app.config["RETENTION_DAYS"],
        )
    return CleanupResult(len(expired_ids), deleted)
