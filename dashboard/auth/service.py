"""Signing in: password checks and throttling of failed attempts."""

import math
import secrets
from datetime import timedelta
from functools import cache

from flask import current_app
from sqlalchemy import delete, func, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.audit.service import Actor, record
from dashboard.auth.models import ROLES, LoginFailure, Staff
from dashboard.auth.rules import email_problem, password_problem
from dashboard.extensions import db
from dashboard.timeutil import utcnow
from dashboard.transaction import DomainError


class SignInThrottled(DomainError):
    def __init__(self, wait_seconds):
        self.wait_seconds = wait_seconds
        minutes = max(1, math.ceil(wait_seconds / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} {unit}.")


class StaffError(DomainError, ValueError):
    pass


def _throttle_keys(email, address, device):
    """What a failed sign-in counts against, with each count's limit. A browser that signed
    in to this account before counts against its own device id only (dashboard.auth.devices):
    guesses from elsewhere, which throttle the account and their address, do not lock it out.
    """
    config = current_app.config
    if device:
        return ((f"device:{device}", config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),)
    return (
        (f"account:{email.strip().lower()}", config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
        (f"address:{address}", config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
    )


def _serialize_attempts(keys):
    """Concurrent attempts on the same keys wait for each other until this transaction ends,
    so the count read below is exact: 30 guesses at once get exactly the limit checked.
    (SQLite's BEGIN IMMEDIATE already serializes every writing transaction.)"""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key, _limit in sorted(keys):
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


def _check_throttle(keys, now):
    window = timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    since = now - window
    for key, limit in keys:
        count, oldest = db.session.execute(
            select(func.count(), func.min(LoginFailure.failed_at)).where(
                LoginFailure.key == key, LoginFailure.failed_at > since
            )
        ).one()
        if count >= limit:
            raise SignInThrottled((oldest + window - now).total_seconds())


@cache
def _dummy_hash(method):
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(email, password, address, device=None):
    """The active staff member with these credentials, or None.

    Raises SignInThrottled while too many recent attempts failed for the account or the
    client address (or, from a browser that signed in to this account before, for that
    browser); a correct password does not get through a throttle either. An unknown or
    inactive account costs the same password check as a known one, so timing does not tell
    which accounts exist.
    """
    now = utcnow()
    keys = _throttle_keys(email, address, device)
    _serialize_attempts(keys)
    _check_throttle(keys, now)
    staff = db.session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
    stored = staff.password_hash if staff else None
    matches = check_password_hash(
        stored or _dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password
    )
    if staff is None or not matches or not staff.is_active:
        for key, _limit in keys:
            db.session.add(LoginFailure(key=key, failed_at=now))
        # Old rows are only useful inside the window.
        window = timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
        db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - window))
        db.session.flush()
        return None
    # The account's and this browser's failures are forgiven; the address's are not (one
    # account of one's own would otherwise reset the count for guessing at others).
    cleared = [
        f"account:{staff.email}",
        *(key for key, _limit in keys if key.startswith("device:")),
    ]
    db.session.execute(delete(LoginFailure).where(LoginFailure.key.in_(cleared)))
    staff.last_login_at = now
    db.session.flush()
    return staff


def create_staff(email, role, password, actor=None):
    email = (email or "").strip().lower()
    problem = email_problem(email)
    if problem:
        raise StaffError(problem)
    if role not in ROLES:
        raise StaffError(f"Role must be one of {', '.join(ROLES)}.")
    problem = password_problem(password, email)
    if problem:
        raise StaffError(problem)
    if db.session.scalar(select(Staff.id).where(Staff.email == email)):
        raise StaffError(f"A staff account for {email} already exists.")
    staff = Staff(email=email, role=role)
    staff.set_password(password, method=current_app.config["PASSWORD_HASH_METHOD"])
    db.session.add(staff)
    db.session.flush()
    record(actor or Actor.current(), "staff.create", "staff", staff.id, email=email, role=role)
    return staff


def change_role(staff, role, actor):
    if role not in ROLES:
        raise StaffError(f"Role must be one of {', '.join(ROLES)}.")
    if staff.id == actor.id and role != "manager":
        raise StaffError("You cannot take the manager role away from yourself.")
    if staff.role == role:
        return staff
    before, staff.role = staff.role, role
    db.session.flush()
    record(actor, "staff.change_role", "staff", staff.id, before=before, after=role)
    return staff


def set_active(staff, active, actor):
    if staff.id == actor.id and not active:
        raise StaffError("You cannot deactivate your own account.")
    if staff.is_active_account == active:
        return staff
    staff.is_active_account = active
    if not active:
        # Cookies from before a deactivation stay dead after a reactivation.
        staff.end_sessions()
    db.session.flush()
    record(actor, "staff.activate" if active else "staff.deactivate", "staff", staff.id)
    return staff
