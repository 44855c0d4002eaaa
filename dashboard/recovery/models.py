from dashboard.extensions import db
from dashboard.timeutil import utcnow


class RecoveryAttempt(db.Model):
    """One step of the recovery sequence for one incomplete order: queued (and then sent,
    withdrawn or failed, as its outbox message says), or skipped: a later step was already
    due when it came up (the scheduler was down, or the cart arrived late), and only the
    latest goes out."""

    __tablename__ = "recovery_attempts"

    id = db.Column(db.Integer, primary_key=True)
    incomplete_order_id = db.Column(
        db.Integer, db.ForeignKey("incomplete_orders.id", ondelete="CASCADE"), nullable=False
    )
    step = db.Column(db.Integer, nullable=False)
    # The email is the outbox message with dedupe key recovery:<incomplete order id>:<step>.
    # When it was queued (or skipped); the outbox message says when it went out.
    sent_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Skipped: no email; `skipped_for` is the step that went out instead.
    skipped_for = db.Column(db.Integer)
    clicked_at = db.Column(db.DateTime)
    converted_at = db.Column(db.DateTime)

    __table_args__ = (
        db.UniqueConstraint("incomplete_order_id", "step", name="uq_recovery_attempts_order_step"),
    )


class Suppression(db.Model):
    """An address that asked for no more recovery emails."""

    __tablename__ = "suppressions"

    email = db.Column(db.String(254), primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    source = db.Column(db.String(32), nullable=False, default="unsubscribe_link")
