"""Return requests: a customer's request about an order, its lines, the history the
customer reads and the notes only staff read."""

from dashboard.extensions import db
from dashboard.notes import StaffNoteColumns
from dashboard.timeutil import utcnow

TYPES = ("return", "exchange", "refund")
TYPE_LABELS = {
    "return": "Return",
    "exchange": "Exchange",
    "refund": "Refund (nothing sent back)",
}
REASONS = (
    "damaged",
    "wrong_item",
    "not_as_described",
    "size_or_fit",
    "changed_mind",
    "late_delivery",
    "other",
)
REASON_LABELS = {
    "damaged": "Arrived damaged",
    "wrong_item": "Wrong item sent",
    "not_as_described": "Not as described",
    "size_or_fit": "Size or fit",
    "changed_mind": "Changed mind",
    "late_delivery": "Arrived too late",
    "other": "Other",
}
STATUSES = ("pending", "approved", "rejected", "cancelled", "received", "completed")
STATUS_LABELS = {
    "pending": "Pending",
    "approved": "Approved",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "received": "Received",
    "completed": "Completed",
}
# A request in one of these no longer holds its items: they may be requested again.
CLOSED_WITHOUT_RETURN = ("rejected", "cancelled")
# Why staff reject, for the shop's own figures; the customer reads the note instead.
REJECTION_REASONS = {
    "outside_policy": "Outside the return policy",
    "used_or_worn": "Used, worn or not in resalable condition",
    "no_proof": "No photo or proof of the problem",
    "duplicate": "A duplicate of another request",
    "suspected_abuse": "Suspected abuse",
    "other": "Other",
}
REFUND_METHODS = {
    "original_payment": "Refund to the original payment",
    "store_credit": "Store credit",
    "replacement": "Replacement shipped (exchange)",
}
# Only these move money back to the customer, so only these count as refunded on the order.
MONEY_METHODS = ("original_payment", "store_credit")


def rma_number(request_id):
    return f"RMA-{request_id:06d}"


class ReturnRequest(db.Model):
    """A customer's return, exchange or refund request about one order."""

    __tablename__ = "return_requests"

    id = db.Column(db.Integer, primary_key=True)
    # RMA-000123, from the id: set in the transaction that inserts the row.
    number = db.Column(db.String(20), unique=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    # The address the customer proved ownership with (the order's, lower case); emails go there.
    email = db.Column(db.String(254), nullable=False)
    type = db.Column(db.String(12), nullable=False)
    reason = db.Column(db.String(20), nullable=False)
    comment = db.Column(db.Text)
    status = db.Column(db.String(12), nullable=False, default="pending")
    currency = db.Column(db.String(3), nullable=False)
    # For the list: what the customer asks for, at the prices paid, before fees.
    units_requested = db.Column(db.Integer, nullable=False)
    value_requested = db.Column(db.BigInteger, nullable=False)  # minor units

    submitted_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    submitted_by = db.Column(db.String(254), nullable=False)
    decided_at = db.Column(db.DateTime)  # approved or rejected
    decided_by = db.Column(db.String(254))
    # An approved return should be in the shop's hands by then (RETURN_SHIP_BY_DAYS).
    ship_by_at = db.Column(db.DateTime)
    received_at = db.Column(db.DateTime)
    received_by = db.Column(db.String(254))
    receipt_note = db.Column(db.Text)  # what was missing or damaged, in staff's words
    completed_at = db.Column(db.DateTime)
    completed_by = db.Column(db.String(254))
    cancelled_at = db.Column(db.DateTime)
    cancelled_by = db.Column(db.String(254))

    # The latest note the customer may read (with an approval or a rejection).
    customer_note = db.Column(db.Text)
    # Never shown to the customer.
    rejection_reason = db.Column(db.String(20))

    refund_amount = db.Column(db.BigInteger)  # minor units, as recorded at completion
    refund_computed = db.Column(db.BigInteger)  # what the refund computation said then
    refund_method = db.Column(db.String(20))
    refund_reference = db.Column(db.String(100))
    refund_note = db.Column(db.Text)  # required when the amount differs from the computed one

    # A manager let the request through rules that would have refused it.
    overridden_rules = db.Column(db.String(200))
    override_note = db.Column(db.Text)
    overridden_by = db.Column(db.String(254))

    # A storefront retry with the same key returns this request instead of making another.
    api_key_id = db.Column(db.Integer, db.ForeignKey("api_keys.id", ondelete="SET NULL"))
    idempotency_key = db.Column(db.String(200))
    idempotency_fingerprint = db.Column(db.String(64))

    lines = db.relationship(
        "ReturnLine",
        order_by="ReturnLine.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        back_populates="request",
    )
    events = db.relationship(
        "ReturnEvent",
        order_by="ReturnEvent.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    notes = db.relationship(
        "ReturnNote",
        order_by="ReturnNote.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    order = db.relationship("Order")

    __table_args__ = (
        db.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        db.CheckConstraint(f"type IN {TYPES!r}", name="type"),
        db.CheckConstraint(f"reason IN {REASONS!r}", name="reason"),
        db.CheckConstraint(f"refund_method IN {tuple(REFUND_METHODS)!r}", name="refund_method"),
        db.CheckConstraint("refund_amount >= 0", name="refund_amount"),
        db.UniqueConstraint("api_key_id", "idempotency_key", name="uq_return_requests_idempotency"),
        # The desk's default view (pending, oldest first) and every status filter.
        db.Index("ix_return_requests_status_submitted", "status", "submitted_at", "id"),
        db.Index("ix_return_requests_submitted", "submitted_at", "id"),
        # The reason and type filters, over a submitted range or in the queue's order.
        db.Index("ix_return_requests_reason_submitted", "reason", "submitted_at", "id"),
        db.Index("ix_return_requests_type_submitted", "type", "submitted_at", "id"),
        # Overdue returns: approved, not received by their ship-by date.
        db.Index("ix_return_requests_status_ship_by", "status", "ship_by_at"),
        # A customer's requests (search, "requests in the last 90 days").
        db.Index("ix_return_requests_email_submitted", "email", "submitted_at"),
    )

    @property
    def type_label(self):
        return TYPE_LABELS[self.type]

    @property
    def reason_label(self):
        return REASON_LABELS[self.reason]

    @property
    def status_label(self):
        return STATUS_LABELS[self.status]

    @property
    def rejection_reason_label(self):
        return REJECTION_REASONS.get(self.rejection_reason, self.rejection_reason)

    @property
    def refund_method_label(self):
        return REFUND_METHODS.get(self.refund_method, self.refund_method)

    @property
    def sends_items_back(self):
        return self.type != "refund"


class ReturnLine(db.Model):
    """One order line in a request: how many the customer asks to return, how many staff
    approved, how many arrived and how many of those were damaged."""

    __tablename__ = "return_lines"

    id = db.Column(db.Integer, primary_key=True)
    return_request_id = db.Column(
        db.Integer,
        db.ForeignKey("return_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    order_item_id = db.Column(
        db.Integer, db.ForeignKey("order_items.id"), nullable=False, index=True
    )
    sku = db.Column(db.String(64), nullable=False, index=True)
    name = db.Column(db.String(200), nullable=False)
    quantity_requested = db.Column(db.Integer, nullable=False)
    quantity_approved = db.Column(db.Integer)  # set when decided
    quantity_received = db.Column(db.Integer)  # set when the parcel arrived
    quantity_damaged = db.Column(db.Integer)
    reason = db.Column(db.String(20), nullable=False)  # the request's unless given
    comment = db.Column(db.Text)
    # Rules a manager overrode for this line (comma-separated codes from rules.RULES); who
    # and why is on the request.
    overridden_rules = db.Column(db.String(200))

    request = db.relationship("ReturnRequest", back_populates="lines")
    order_item = db.relationship("OrderItem")

    __table_args__ = (
        db.CheckConstraint(f"reason IN {REASONS!r}", name="reason"),
        db.CheckConstraint("quantity_requested > 0", name="requested"),
        db.CheckConstraint(
            "quantity_approved >= 0 AND quantity_approved <= quantity_requested", name="approved"
        ),
        db.CheckConstraint(
            "quantity_received >= 0 AND quantity_received <= quantity_approved", name="received"
        ),
        db.CheckConstraint(
            "quantity_damaged >= 0 AND quantity_damaged <= quantity_received", name="damaged"
        ),
    )

    @property
    def reason_label(self):
        return REASON_LABELS[self.reason]

    @property
    def overridden(self):
        return tuple(filter(None, (self.overridden_rules or "").split(",")))

    @property
    def quantity_missing(self):
        """Approved but not in the parcel (None until it arrived)."""
        if self.quantity_received is None or self.quantity_approved is None:
            return None
        return self.quantity_approved - self.quantity_received

    @property
    def quantity_held(self):
        """How many of the order line this request holds: what was approved once decided,
        else what was asked for."""
        if self.quantity_approved is not None:
            return self.quantity_approved
        return self.quantity_requested


EVENTS = ("submitted", "approved", "rejected", "received", "completed", "cancelled")
EVENT_LABELS = {
    "submitted": "Request received",
    "approved": "Approved",
    "rejected": "Rejected",
    "received": "Parcel received",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


class ReturnEvent(db.Model):
    """A move in the request's history, as the customer may read it."""

    __tablename__ = "return_events"

    id = db.Column(db.Integer, primary_key=True)
    return_request_id = db.Column(
        db.Integer,
        db.ForeignKey("return_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    event = db.Column(db.String(12), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # staff | api_key (the storefront, for the customer) | system
    actor_type = db.Column(db.String(16), nullable=False)
    actor_label = db.Column(db.String(254), nullable=False)
    note = db.Column(db.Text)  # for the customer

    __table_args__ = (db.CheckConstraint(f"event IN {EVENTS!r}", name="event"),)

    @property
    def label(self):
        return EVENT_LABELS[self.event]

    @property
    def by_customer(self):
        return self.actor_type == "api_key"


class ReturnNote(StaffNoteColumns, db.Model):
    """An internal note on a request; the customer never sees it."""

    __tablename__ = "return_notes"

    id = db.Column(db.Integer, primary_key=True)
    return_request_id = db.Column(
        db.Integer,
        db.ForeignKey("return_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
