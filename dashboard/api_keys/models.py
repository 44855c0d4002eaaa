from dashboard.extensions import db
from dashboard.timeutil import utcnow


class ApiKey(db.Model):
    """A key the storefront authenticates with. Only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False)
    prefix = db.Column(db.String(16), nullable=False, unique=True)
    secret_hash = db.Column(db.String(64), nullable=False)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime)
    revoked_at = db.Column(db.DateTime)
    revoked_by_id = db.Column(db.Integer, db.ForeignKey("staff.id", ondelete="SET NULL"))

    created_by = db.relationship("Staff", foreign_keys=[created_by_id])
    revoked_by = db.relationship("Staff", foreign_keys=[revoked_by_id])

    @property
    def is_active(self):
        return self.revoked_at is None


class ApiRequestCount(db.Model):
    """Requests one key made in one minute, for a rate limit that holds across processes."""

    __tablename__ = "api_request_counts"

    api_key_id = db.Column(
        db.Integer, db.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    minute = db.Column(db.BigInteger, primary_key=True)  # minutes since the Unix epoch
    count = db.Column(db.Integer, nullable=False, default=0)
