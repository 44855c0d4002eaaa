import json

from dashboard.extensions import db
from dashboard.timeutil import utcnow

# withdrawn: no longer wanted when it was about to go out (the customer bought, say).
# printed: the console mail backend (development) printed it; no customer received it.
OUTBOX_STATUSES = ("queued", "sending", "sent", "printed", "failed", "withdrawn")
# Went out: handed to the mail server, or (development only; production refuses the
# console backend) printed in its place. What recovers a cart is an email that went out.
WENT_OUT = ("sent", "printed")


class OutboxMessage(db.Model):
    """An email Reclaim decided to send, written before it is delivered.

    The unique dedupe key (e.g. recovery:<incomplete order id>:<step>) makes a second
    decision to send the same email fail at the database, whatever process made it.

    A message may be queued with no content (subject and bodies NULL): its kind's renderer
    writes it when it first goes out, from the record as it is then (see
    dashboard.outbox.delivery). Once written, the content is what was sent.
    """

    __tablename__ = "outbox_messages"

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(32), nullable=False)
    dedupe_key = db.Column(db.String(120), nullable=False, unique=True)
    to_email = db.Column(db.String(254), nullable=False)
    subject = db.Column(db.String(200))
    body_text = db.Column(db.Text)
    body_html = db.Column(db.Text)
    headers_json = db.Column(db.Text, nullable=False, default="{}")
    status = db.Column(db.String(12), nullable=False, default="queued")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # While a process delivers it; a message whose claim ran out is picked up again.
    claimed_until = db.Column(db.DateTime)
    last_error = db.Column(db.Text)
    sent_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    record_type = db.Column(db.String(32))
    record_id = db.Column(db.Integer)

    __table_args__ = (
        db.CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status"),
        db.Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        # Failures of the last hour (outbox.health), whatever else the outbox holds.
        db.Index("ix_outbox_messages_status_created", "status", "created_at"),
        db.Index("ix_outbox_messages_record", "record_type", "record_id"),
        db.Index("ix_outbox_messages_kind_status", "kind", "status", "id"),
        # Every email to one address, whatever case it was written in (outbox search).
        db.Index("ix_outbox_messages_to_email", db.func.lower(to_email), id),
    )

    @property
    def written(self):
        return self.body_html is not None

    @property
    def headers(self):
        return json.loads(self.headers_json or "{}")
