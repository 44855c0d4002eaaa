"""Issuing, checking and revoking API keys, and counting their requests."""

import hashlib
import hmac
import re
import secrets
import time

from sqlalchemy import bindparam, delete, func, select, text, update

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
# running it.
KEY_BY_PREFIX = select(
    ApiKey.id, ApiKey.name, ApiKey.secret_hash, ApiKey.revoked_at, ApiKey.last_used_at
).where(ApiKey.prefix == bindparam("prefix"))


def authenticate(plaintext):
    """The active key for a bearer token (its id and name), or None (unknown, malformed or
    revoked). Read as a plain row: this runs on every API request."""
    match = KEY_FORMAT.fullmatch(plaintext or "")
    if match is None:
        return None
    key = db.session.execute(KEY_BY_PREFIX, {"prefix": match.group(1)}).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(plaintext)):
        return None
    if key.revoked_at is not None:
        return None
    now = utcnow()
    if (
        key.last_used_at is None
        or (now - key.last_used_at).total_seconds() > LAST_USED_PRECISION_SECONDS
    ):
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return key


# The same SQL on SQLite and PostgreSQL; as text it is compiled once, where the dialects'
# INSERT … ON CONFLICT constructs would be compiled again for every request.
COUNT_REQUEST = text(
    "INSERT INTO api_request_counts (api_key_id, minute, count) VALUES (:key, :minute, 1) "
    "ON CONFLICT (api_key_id, minute) DO UPDATE SET count = api_request_counts.count + 1 "
    "RETURNING count"
)


def count_request(key, limit_per_minute):
    """Count one request of `key`; returns seconds to wait when it is over the limit, else 0.

    One atomic upsert per request, so the limit holds across processes and hosts.
    """
    now = time.time()
    minute = int(now // 60)
    count = db.session.execute(COUNT_REQUEST, {"key": key.id, "minute": minute}).scalar_one()
    if count == 1:  # first request of a minute: forget the old minutes
        db.session.execute(
            delete(ApiRequestCount).where(
                ApiRequestCount.api_key_id == key.id, ApiRequestCount.minute < minute
            )
        )
    if count > limit_per_minute:
        return max(1, int((minute + 1) * 60 - now) + 1)
    return 0


def keys_for_listing():
    return db.session.scalars(
        select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), func.lower(ApiKey.name))
    ).all()


def actor_for(key):
    return Actor("api_key", key.id, key.name)
