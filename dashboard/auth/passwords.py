"""Staff passwords after sign-up: a temporary one a manager sets, one's own change, and
ending every session of an account. Each flushes and audits; the caller commits.

No password, old or new, is ever written to the audit log.
"""

from flask import current_app

from dashboard.audit.service import record
from dashboard.auth.rules import password_problem
from dashboard.auth.service import StaffError
from dashboard.extensions import db
from dashboard.timeutil import utcnow


class WrongCurrentPassword(StaffError):
    pass


def _set_password(staff, password):
    problem = password_problem(password, staff.email)
    if problem:
        raise StaffError(problem)
    staff.set_password(password, method=current_app.config["PASSWORD_HASH_METHOD"])
    staff.password_changed_at = utcnow()
    # A password that changed ends every session signed in with the one before.
    staff.end_sessions()


def set_temporary_password(staff, password, actor):
    """A manager gives `staff` a password to sign in with once: at that sign-in they must
    choose their own before anything else. Their current sessions end."""
    if staff.id == actor.id:
        raise StaffError("Change your own password on your account page, with your current one.")
    _set_password(staff, password)
    staff.password_must_change = True
    db.session.flush()
    record(actor, "staff.set_temporary_password", "staff", staff.id, email=staff.email)
    return staff


def change_own_password(staff, current_password, new_password, actor):
    """`staff` replaces their password, proving they know the current one. Every other
    session of theirs ends; the caller signs this one in again."""
    if not staff.check_password(current_password or ""):
        raise WrongCurrentPassword("The current password is not right. Type it again.")
    if new_password == current_password:
        raise StaffError("The new password must differ from the current one.")
    was_temporary = staff.password_must_change
    _set_password(staff, new_password)
    staff.password_must_change = False
    db.session.flush()
    record(actor, "staff.change_password", "staff", staff.id, replaced_temporary=was_temporary)
    return staff


def sign_out_everywhere(staff, actor):
    """End every session and remember cookie of `staff`, this one included."""
    staff.end_sessions()
    db.session.flush()
    record(actor, "staff.sign_out_everywhere", "staff", staff.id)
    return staff


def end_session(staff):
    """Signing out: the session's cookie, copied or not, no longer signs anyone in. With one
    session version per account this ends the account's other sessions too."""
    staff.end_sessions()
    db.session.flush()
