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
    """A record touched by a bulk audit event.

    The key leads with the record: a record's timeline finds its bulk events by it, and it
    is the table's only index, so a bulk change of 10,000 carts writes 10,000 index
    entries, not 20,000. There is no foreign key to the event: targets are written only
    with their event, in its transaction (audit.service.record_bulk), and nothing deletes
    from the audit log; PostgreSQL checked such a key row by row, 40–60 ms of every
    10,000-cart bulk change (migration 0024).
    """

    __tablename__ = "audit_event_targets"

    record_type = db.Column(db.String(32), nullable=False)
    record_id = db.Column(db.Integer, nullable=False)
    event_id = db.Column(db.Integer, nullable=False)

    __table_args__ = (db.PrimaryKeyConstraint("record_type", "record_id", "event_id"),)
