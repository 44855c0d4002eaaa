import json

from dashboard.extensions import db
from dashboard.timeutil import utcnow


class AuditEvent(db.Model):
    """Who (staff, API key or system job) did what to which record, when."""

    __tablename__ = "audit_events"

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor_type = db.Column(db.String(16), nullable=False)  # staff | api_key | system
    actor_id = db.Column(db.Integer)
    actor_label = db.Column(db.String(254), nullable=False)
    action = db.Column(db.String(64), nullable=False)
    record_type = db.Column(db.String(32))
    record_id = db.Column(db.Integer)
    # For bulk actions the event names many records; they are listed in audit_event_targets.
    target_count = db.Column(db.Integer, nullable=False, default=1)
    details_json = db.Column(db.Text, nullable=False, default="{}")

    __table_args__ = (
        db.Index("ix_audit_events_record", "record_type", "record_id"),
        db.Index("ix_audit_events_actor", "actor_label", "id"),
        db.Index("ix_audit_events_action", "action", "id"),
        # The audit log's date range: the first and last event of a day, by seek.
        db.Index("ix_audit_events_created_at", "created_at"),
    )

    @property
    def details(self):
        return json.loads(self.details_json or "{}")


class AuditEventTarget(db.Model):
    """A record touched by a bulk audit event."""

    __tablename__ = "audit_event_targets"

    event_id = db.Column(
        db.Integer, db.ForeignKey("audit_events.id", ondelete="CASCADE"), primary_key=True
    )
    record_type = db.Column(db.String(32), primary_key=True)
    record_id = db.Column(db.Integer, primary_key=True)

    __table_args__ = (db.Index("ix_audit_event_targets_record", "record_type", "record_id"),)
