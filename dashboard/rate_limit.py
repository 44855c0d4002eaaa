"""What one signed-in staff member may ask of the app at once: requests per clock minute
(STAFF_RATE_LIMIT_PER_MINUTE) and CSV exports streaming at the same time
(EXPORT_CONCURRENCY_PER_STAFF, and EXPORT_CONCURRENCY_TOTAL for everyone together).

Both are kept in the database, as the API keys' request counts are, so they hold across
gunicorn workers and hosts: a request is counted by one atomic upsert, and an export holds
a slot row that it renews while it streams and deletes when it ends, fails or is closed. A
process that dies mid-export leaves a slot that lapses after EXPORT_LEASE_SECONDS.
"""

import logging
import math
import secrets
import time
from contextlib import contextmanager

from flask import current_app, render_template, request, session
from flask_login import current_user
from sqlalchemy import delete, text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import TooManyRequests

from dashboard import database
from dashboard.api import is_api_request
from dashboard.extensions import db
from dashboard.htmx import is_htmx, toast

log = logging.getLogger(__name__)

# Not counted: assets, the load balancer's probe, the API (its keys have their own limit),
# and signing out (someone over the limit can always leave).
NOT_COUNTED = {"static", "core.healthz", "auth.logout"}

# An export's slot lapses this long after its last renewal: how long a crashed process can
# keep its owner from exporting again. A streaming export renews it between chunks.
EXPORT_LEASE_SECONDS = 60
EXPORT_RENEW_SECONDS = 15
EXPORT_RETRY_AFTER_SECONDS = 30
EVERYONE = "everyone"


class StaffRequestCount(db.Model):
    """Requests one staff member made in one clock minute."""

    __tablename__ = "staff_request_counts"

    staff_id = db.Column(
        db.Integer, db.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    minute = db.Column(db.BigInteger, primary_key=True)  # minutes since the Unix epoch
    count = db.Column(db.Integer, nullable=False, default=0)


class RunningExport(db.Model):
    """A slot a streaming CSV export holds: slots 0..N-1 of a staff member's scope
    ("staff:<id>") and of everyone's ("everyone"). A slot whose lease ended is free."""

    __tablename__ = "running_exports"

    scope = db.Column(db.String(32), primary_key=True)
    slot = db.Column(db.Integer, primary_key=True)
    token = db.Column(db.String(32), nullable=False, index=True)
    expires_at = db.Column(db.BigInteger, nullable=False)  # seconds since the Unix epoch


class TooManyAtOnce(TooManyRequests):
    """A 429 whose description is shown to the staff member as it is."""

    def __init__(self, message, retry_after):
        super().__init__(description=message, retry_after=retry_after)


def _clock():
    return time.time()


@contextmanager
def _write_transaction(connection_source):
    """A short transaction that writes (BEGIN IMMEDIATE on SQLite), whatever the request's
    method is."""
    intent = database.write_intent.set(True)
    try:
        with connection_source.begin() as connection:
            yield connection
    finally:
        database.write_intent.reset(intent)


# --- requests per minute ----------------------------------------------------------------

# As the API's count (api_keys.service): the same SQL on SQLite and PostgreSQL, compiled once.
COUNT_REQUEST = text(
    "INSERT INTO staff_request_counts (staff_id, minute, count) VALUES (:staff, :minute, 1) "
    "ON CONFLICT (staff_id, minute) DO UPDATE SET count = staff_request_counts.count + 1 "
    "RETURNING count"
)
ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


def count_staff_request():
    """Count a signed-in staff member's request; refuse it with 429 over the limit.

    Runs before any other hook reads the database, so that the staff member is loaded and
    counted in one short writing transaction, committed at once: the count holds even when
    the request fails, and the request's own work starts a transaction of its own kind.
    """
    if request.endpoint in NOT_COUNTED or is_api_request(request):
        return
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if "_user_id" not in session and remember not in request.cookies:
        return  # nobody to count, and no staff row to load: no write lock for a visitor
    intent = database.write_intent.set(True)
    try:
        if not current_user.is_authenticated:
            _commit_keeping_what_is_loaded()  # a stale cookie may have been looked up
            return
        limit = current_app.config["STAFF_RATE_LIMIT_PER_MINUTE"]
        wait = _count(current_user.id, limit)
        _commit_keeping_what_is_loaded()
    finally:
        database.write_intent.reset(intent)
    if wait:
        raise TooManyAtOnce(
            f"You made more than {_counted(limit, 'request')} in a minute. "
            f"Wait {_counted(wait, 'second')}, then try again.",
            wait,
        )


def _counted(number, noun):
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _count(staff_id, limit):
    """Seconds to wait when this request is over the limit, else 0."""
    now = _clock()
    minute = int(now // 60)
    if db.session.get_bind().dialect.name == "postgresql":
        # A count lost in a crash costs nothing; waiting for the disk on every page does.
        db.session.execute(ASYNC_COMMIT)
    count = db.session.execute(COUNT_REQUEST, {"staff": staff_id, "minute": minute}).scalar_one()
    if count == 1:  # the first request of a minute: forget the minutes before
        db.session.execute(
            delete(StaffRequestCount).where(
                StaffRequestCount.staff_id == staff_id, StaffRequestCount.minute < minute
            )
        )
    if count > limit:
        return max(1, math.ceil((minute + 1) * 60 - now))
    return 0


def _commit_keeping_what_is_loaded():
    # The signed-in staff member stays loaded: no second read of the row just read.
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


# --- exports streaming at once ----------------------------------------------------------

# Takes slot :slot of :scope when it is free (never taken, or its lease ended); returns a
# row only if this statement took it. Atomic on both databases: on PostgreSQL a second
# claim of the same slot waits for the first to commit, then sees its lease.
CLAIM_SLOT = text(
    "INSERT INTO running_exports (scope, slot, token, expires_at) "
    "VALUES (:scope, :slot, :token, :expires) "
    "ON CONFLICT (scope, slot) DO UPDATE "
    "SET token = excluded.token, expires_at = excluded.expires_at "
    "WHERE running_exports.expires_at <= :now "
    "RETURNING slot"
)
RENEW_SLOTS = text("UPDATE running_exports SET expires_at = :expires WHERE token = :token")
RELEASE_SLOTS = text("DELETE FROM running_exports WHERE token = :token")


class ExportClaim:
    """The slots one export holds until `release()`. Its writes use a connection of their
    own, never the request's: an export's request only reads, and the release may run
    after the request has ended (the server closing the response) or when an unread
    download is collected."""

    def __init__(self, engine, token):
        self.engine = engine
        self.token = token
        self.renewed = time.monotonic()
        self.released = False

    def keep(self):
        """Renew the lease, when it is due: called between chunks of a download."""
        if self.released or time.monotonic() - self.renewed < EXPORT_RENEW_SECONDS:
            return
        self.renewed = time.monotonic()
        try:
            with _write_transaction(self.engine) as connection:
                connection.execute(
                    RENEW_SLOTS,
                    {"token": self.token, "expires": int(_clock()) + EXPORT_LEASE_SECONDS},
                )
        except SQLAlchemyError:
            log.warning("Could not renew an export's slot; it lapses on its own", exc_info=True)

    def release(self):
        if self.released:
            return
        self.released = True
        try:
            with _write_transaction(self.engine) as connection:
                connection.execute(RELEASE_SLOTS, {"token": self.token})
        except SQLAlchemyError:
            log.warning("Could not release an export's slot; it lapses on its own", exc_info=True)


def claim_export_slot(staff_id):
    """Slots for one more export by `staff_id`, or TooManyAtOnce (429) while as many of
    their own exports as EXPORT_CONCURRENCY_PER_STAFF allows, or as many of everyone's as
    EXPORT_CONCURRENCY_TOTAL allows, are still streaming."""
    config = current_app.config
    engine = db.engine
    token = secrets.token_hex(16)
    now = int(_clock())
    values = {"token": token, "now": now, "expires": now + EXPORT_LEASE_SECONDS}
    # Raising inside the transaction rolls back a slot already taken in it.
    with _write_transaction(engine) as connection:
        own = config["EXPORT_CONCURRENCY_PER_STAFF"]
        if not _claim_one(connection, f"staff:{staff_id}", own, values):
            raise TooManyAtOnce(
                "An export you started is still running; wait for it to finish, "
                "then start this one."
                if own == 1
                else f"{own} exports you started are still running; wait for one of them "
                "to finish, then start this one.",
                EXPORT_RETRY_AFTER_SECONDS,
            )
        total = config["EXPORT_CONCURRENCY_TOTAL"]
        if not _claim_one(connection, EVERYONE, total, values):
            raise TooManyAtOnce(
                f"{total} exports are running for other staff right now, as many as run "
                f"at once; try again in {EXPORT_RETRY_AFTER_SECONDS} seconds.",
                EXPORT_RETRY_AFTER_SECONDS,
            )
    return ExportClaim(engine, token)


def _claim_one(connection, scope, slots, values):
    for slot in range(slots):
        if connection.execute(CLAIM_SLOT, {"scope": scope, "slot": slot, **values}).first():
            return True
    return False


# --- wiring -----------------------------------------------------------------------------


def too_many_requests(error):
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
    message = error.description
    if is_htmx():
        # htmx swaps no 429: the page shows the message as a toast.
        response = current_app.response_class("", status=429, headers=headers)
        return toast(response, message, "error")
    return render_template("error.html", code=429, message=message), 429, headers


def register(app):
    """Count staff requests before anything else reads the database (register this before
    the blueprints, whose hooks load the signed-in staff member)."""
    app.before_request(count_staff_request)
    app.register_error_handler(TooManyRequests, too_many_requests)
