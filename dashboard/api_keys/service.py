"""Issuing, checking and revoking API keys, and counting their requests."""

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, select, text, update

from dashboard.api_keys.models import ApiKey, ApiRequestCount
from dashboard.audit.service import Actor, record
from dashboard.extensions import db
from dashboard.timeutil import utcnow
from dashboard.transaction import DomainError

KEY_PREFIX = "rk_"
# rk_<8 hex>_<secret>: anything else is refused before it reaches the database.
KEY_FORMAT = re.compile(r"rk_([0-9a-f]{8})_[A-Za-z0-9_-]{20,100}")
LAST_USED_PRECISION_SECONDS = 60


class ApiKeyError(DomainError, ValueError):
    pass


def _hash(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(name, actor, staff):
    """Create a key; returns (api_key, plaintext). The plaintext is never stored."""
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("Give the key a name that says where it is used, e.g. “Storefront”.")
    if len(name) > 100:
        raise ApiKeyError("A key's name can have at most 100 characters.")
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, secret_hash=_hash(plaintext), created_by_id=staff.id)
    db.session.add(key)
    db.session.flush()
    record(actor, "api_key.create", "api_key", key.id, name=name, prefix=prefix)
    return key, plaintext


def revoke_key(key, actor, staff):
    if key.revoked_at is not None:
        raise ApiKeyError(f"The key “{key.name}” is already revoked.")
    key.revoked_at = utcnow()
    key.revoked_by_id = staff.id
    db.session.flush()
    record(actor, "api_key.revoke", "api_key", key.id, name=key.name, prefix=key.prefix)
    return key


# Built once: this runs on every API request, and building a statement costs more than
# running it. The key and its requests so far this minute, in one statement.
KEY_BY_PREFIX = (
    select(
        ApiKey.id,
        ApiKey.name,
        ApiKey.secret_hash,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        ApiRequestCount.count,
    )
    .outerjoin(
        ApiRequestCount,
        and_(
            ApiRequestCount.api_key_id == ApiKey.id,
            ApiRequestCount.minute == bindparam("minute"),
        ),
    )
    .where(ApiKey.prefix == bindparam("prefix"))
)
# The same lookup for a request whose work the next of its kind supersedes (a cart
# snapshot: the storefront sends the whole cart each time). On PostgreSQL its transaction
# then commits without waiting for the WAL to reach the disk: a crash of the database can
# lose the last fraction of a second of such work, and leaves the rest consistent. Set in
# the statement that opens the transaction: as a statement of its own, it cost about what
# it saved.
KEY_BY_PREFIX_NOT_DURABLE = KEY_BY_PREFIX.add_columns(
    func.set_config("synchronous_commit", "off", True).label("synchronous_commit")
)


@dataclass(frozen=True)
class KeyRequest:
    """A request made with an active key: who it acts as, and how it is counted.

    The request is counted in the clock minute it arrived in, by `count_request()` in the
    transaction that commits its work (or alone, when it fails): on PostgreSQL the count's
    row is then locked only while that transaction commits, not through the whole request,
    so one key's requests in several workers do not wait for each other. The limit is
    checked against the count at arrival, so requests arriving at the same instant from
    several workers may pass it by at most one each; the count itself is exact.
    """

    id: int
    name: str
    minute: int  # minutes since the Unix epoch
    earlier: int  # the key's requests counted in that minute before this one
    used_at: object = None  # a new last_used_at for the key, written with the count

    def wait_seconds(self, limit_per_minute, now=None):
        """Seconds to wait when this request is over the limit, else 0."""
        if self.earlier < limit_per_minute:
            return 0
        now = time.time() if now is None else now
        return max(1, int((self.minute + 1) * 60 - now) + 1)


def authenticate(plaintext, durable=True):
    """The `KeyRequest` for a bearer token, or None (unknown, malformed or revoked).

    It opens the request's transaction; with `durable=False` that commits without waiting
    for the disk on PostgreSQL (see KEY_BY_PREFIX_NOT_DURABLE)."""
    match = KEY_FORMAT.fullmatch(plaintext or "")
    if match is None:
        return None
    minute = int(time.time() // 60)
    connection = db.session.connection()
    lookup = KEY_BY_PREFIX
    if not durable and connection.dialect.name == "postgresql":
        lookup = KEY_BY_PREFIX_NOT_DURABLE
    key = connection.execute(lookup, {"prefix": match.group(1), "minute": minute}).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(plaintext)):
        return None
    if key.revoked_at is not None:
        return None
    now = utcnow()
    stale = (
        key.last_used_at is None
        or (now - key.last_used_at).total_seconds() > LAST_USED_PRECISION_SECONDS
    )
    return KeyRequest(key.id, key.name, minute, key.count or 0, now if stale else None)


# The same SQL on SQLite and PostgreSQL; as text it is compiled once, where the dialects'
# INSERT … ON CONFLICT constructs would be compiled again for every request.
COUNT_REQUEST = text(
    "INSERT INTO api_request_counts (api_key_id, minute, count) VALUES (:key, :minute, 1) "
    "ON CONFLICT (api_key_id, minute) DO UPDATE SET count = api_request_counts.count + 1 "
    "RETURNING count"
)


def count_request(key):
    """Count one request of `key` (a `KeyRequest`) in its minute, one atomic upsert, so
    the count holds across processes and hosts; and note when the key was last used. The
    caller commits."""
    if key.used_at is not None:
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=key.used_at)
            .execution_options(synchronize_session=False)
        )
    count = (
        db.session.connection()
        .execute(COUNT_REQUEST, {"key": key.id, "minute": key.minute})
        .scalar_one()
    )
    if count == 1:  # first request of a minute: forget the old minutes
        db.session.execute(
            delete(ApiRequestCount).where(
                ApiRequestCount.api_key_id == key.id, ApiRequestCount.minute < key.minute
            )
        )


def keys_for_listing():
    return db.session.scalars(
        select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), func.lower(ApiKey.name))
    ).all()


def actor_for(key):
    return Actor("api_key", key.id, key.name)
