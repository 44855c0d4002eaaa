"""Signing in: password checks and throttling of failed attempts."""

import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

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


def _keys(email, address):
    return (
        (f"account:{email.strip().lower()}", current_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
        (f"address:{address}", current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
    )


def _check_throttle(email, address, now):
    window = timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    since = now - window
    for key, limit in _keys(email, address):
        count, oldest = db.session.execute(
            select(func.count(), func.min(LoginFailure.failed_at)).where(
                LoginFailure.key == key, LoginFailure.failed_at > since
            )
        ).one()
        if count >= limit:
            raise SignInThrottled((oldest + window - now).total_seconds())


def authenticate(email, password, address):
    """The active staff member with these credentials, or None.

    Raises SignInThrottled while too many recent attempts failed for the account or
    the client address; a correct password does not get through a throttle either.
    """
    now = utcnow()
    _check_throttle(email, address, now)
    staff = db.session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
    if staff is None or not staff.is_active or not staff.check_password(password):
        for key, _limit in _keys(email, address):
            db.session.add(LoginFailure(key=key, failed_at=now))
        # Old rows are only useful inside the window.
        window = timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
        db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - window))
        db.session.flush()
        return None
    account_key = _keys(email, address)[0][0]
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
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
