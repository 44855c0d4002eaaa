import sqlalchemy as sa
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.extensions import db
from dashboard.timeutil import utcnow

ROLES = ("viewer", "agent", "manager")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


class Staff(UserMixin, db.Model):
    __tablename__ = "staff"

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    password_hash = db.Column(db.String(256), nullable=False)
    role = db.Column(db.String(16), nullable=False, default="viewer")
    is_active_account = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime)
    # Sessions and remember cookies name the version they were signed in with; moving it
    # on (sign-out, deactivation, a new password) ends every one of them at once.
    session_version = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    # A temporary password a manager set: nothing but choosing a new one until it is done.
    password_must_change = db.Column(
        db.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    password_changed_at = db.Column(db.DateTime)

    @property
    def is_active(self):
        return self.is_active_account

    def get_id(self):
        """What the session and the remember cookie hold: the id and the session version."""
        return f"{self.id}:{self.session_version}"

    def end_sessions(self):
        """Sign out every session and remember cookie this account has (on its next request)."""
        self.session_version = (self.session_version or 1) + 1

    def set_password(self, password, method="scrypt"):
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def has_role(self, role):
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def __repr__(self):
        return f"<Staff {self.email} {self.role}>"


class LoginFailure(db.Model):
    """One failed sign-in, counted per account and per client address.

    Kept in the database so the limit holds across processes and restarts.
    """

    __tablename__ = "login_failures"

    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(300), nullable=False)
    failed_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.Index("ix_login_failures_key_failed_at", "key", "failed_at"),)
