import json

from dashboard.extensions import db
from dashboard.line_items import LineItemColumns
from dashboard.notes import StaffNoteColumns
from dashboard.timeutil import utcnow

STAGES = ("cart", "checkout", "payment_pending", "payment_failed")
STATUSES = ("open", "converted", "expired", "cancelled")

STAGE_LABELS = {
    "cart": "Cart",
    "checkout": "Checkout",
    "payment_pending": "Payment pending",
    "payment_failed": "Payment failed",
}
STATUS_LABELS = {
    "open": "Open",
    "converted": "Converted",
    "expired": "Expired",
    "cancelled": "Cancelled",
}


class IncompleteOrder(db.Model):
    """A checkout that did not finish, kept from the storefront's cart snapshots."""

    __tablename__ = "incomplete_orders"

    id = db.Column(db.Integer, primary_key=True)
    cart_id = db.Column(db.String(64), nullable=False, unique=True)
    customer_id = db.Column(db.String(64), index=True)
    guest_session = db.Column(db.String(128))
    email = db.Column(db.String(254), index=True)
    phone = db.Column(db.String(40))
    name = db.Column(db.String(200))
    stage = db.Column(db.String(20), nullable=False, default="cart")
    status = db.Column(db.String(12), nullable=False, default="open")
    currency = db.Column(db.String(3), nullable=False)
    subtotal = db.Column(db.BigInteger, nullable=False, default=0)  # minor units
    item_count = db.Column(db.Integer, nullable=False, default=0)
    # Recovery emails sent so far; the next step is recovery_attempts + 1.
    recovery_attempts = db.Column(db.Integer, nullable=False, default=0)
    # When the last recovery email went out (delivered, not queued): the next step is timed
    # from it.
    recovery_last_sent_at = db.Column(db.DateTime)
    # Set while a recovery email waits in the outbox: no next step is queued until it went
    # out (or failed, or was withdrawn), so the steps always arrive in order.
    recovery_queued_at = db.Column(db.DateTime)
    recovery_paused_at = db.Column(db.DateTime)
    recovery_paused_by = db.Column(db.String(254))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # When Reclaim last took a change of the cart's content from the storefront.
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_activity_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Set from creation on, so a status change rewrites a row without growing it.
    status_changed_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # When the cart first counted as abandoned (last activity + the first recovery delay),
    # set by the analytics run and never cleared: the day it is counted on for good.
    abandoned_at = db.Column(db.DateTime, index=True)
    # The recovery holdout's group (dashboard.recovery.holdout), set when the email arrived:
    # True held out (no recovery email), False emailed, NULL when the holdout was off.
    recovery_holdout = db.Column(db.Boolean)

    items = db.relationship(
        "IncompleteOrderItem",
        order_by="IncompleteOrderItem.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        # Read where they are shown, with selectinload(IncompleteOrder.items): list pages and
        # exports show counts and totals only, and must not read every line.
        lazy="select",
    )
    converted_order = db.relationship("Order", uselist=False, viewonly=True)

    __table_args__ = (
        db.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        db.CheckConstraint(f"stage IN {STAGES!r}", name="stage"),
        # Every list sort has an index, with the id as tie-breaker for keyset paging.
        # Only the queue's default view (status, last activity) gets a composite one:
        # each index holding the status is rewritten by every status change, and bulk
        # expiry of thousands of rows must stay fast.
        db.Index("ix_incomplete_orders_last_activity", "last_activity_at", "id"),
        db.Index("ix_incomplete_orders_created", "created_at", "id"),
        db.Index("ix_incomplete_orders_subtotal", "subtotal", "id"),
        db.Index("ix_incomplete_orders_attempts", "recovery_attempts", "id"),
        # SQLite only: PostgreSQL drops it (migration 0022) so that a status change rewrites
        # no index of the row.
        db.Index("ix_incomplete_orders_status_last_activity", "status", "last_activity_at", "id"),
        # The carts waiting for a recovery email to go out: few at any time.
        db.Index(
            "ix_incomplete_orders_recovery_queued",
            "recovery_queued_at",
            sqlite_where=db.text("recovery_queued_at IS NOT NULL"),
            postgresql_where=db.text("recovery_queued_at IS NOT NULL"),
        ),
        # The list's "paused" filter: few carts are, so only they are in it.
        db.Index(
            "ix_incomplete_orders_paused",
            "recovery_paused_at",
            sqlite_where=db.text("recovery_paused_at IS NOT NULL"),
            postgresql_where=db.text("recovery_paused_at IS NOT NULL"),
        ),
    )

    @property
    def is_guest(self):
        return not self.customer_id

    @property
    def stage_label(self):
        return STAGE_LABELS[self.stage]

    @property
    def status_label(self):
        return STATUS_LABELS[self.status]


class IncompleteOrderItem(LineItemColumns, db.Model):
    __tablename__ = "incomplete_order_items"

    id = db.Column(db.Integer, primary_key=True)
    incomplete_order_id = db.Column(
        db.Integer,
        db.ForeignKey("incomplete_orders.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


class IncompleteOrderNote(StaffNoteColumns, db.Model):
    __tablename__ = "incomplete_order_notes"

    id = db.Column(db.Integer, primary_key=True)
    incomplete_order_id = db.Column(
        db.Integer,
        db.ForeignKey("incomplete_orders.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


class IncompleteOrderEvent(db.Model):
    """What one storefront snapshot changed in a cart (created, stage, items, contact),
    written at ingest only when something changed: the cart's timeline reads these rather
    than comparing snapshots it no longer has."""

    __tablename__ = "incomplete_order_events"

    id = db.Column(db.Integer, primary_key=True)
    incomplete_order_id = db.Column(
        db.Integer, db.ForeignKey("incomplete_orders.id", ondelete="CASCADE"), nullable=False
    )
    at = db.Column(db.DateTime, nullable=False)
    kind = db.Column(db.String(20), nullable=False)  # created | changed
    details_json = db.Column(db.Text, nullable=False, default="{}")

    __table_args__ = (db.Index("ix_incomplete_order_events_order", "incomplete_order_id", "at"),)

    @property
    def details(self):
        return json.loads(self.details_json or "{}")
