from dashboard.extensions import db
from dashboard.line_items import LineItemColumns
from dashboard.timeutil import utcnow

SOURCES = ("storefront", "staff")
SOURCE_LABELS = {"storefront": "Storefront", "staff": "Staff conversion"}


class Order(db.Model):
    """A completed order, reported by the storefront or converted by staff."""

    __tablename__ = "orders"

    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(40), nullable=False, unique=True)
    source = db.Column(db.String(16), nullable=False)
    # Unique: an incomplete order becomes an order at most once.
    incomplete_order_id = db.Column(
        db.Integer,
        db.ForeignKey("incomplete_orders.id", ondelete="SET NULL"),
        unique=True,
    )
    converted_by_id = db.Column(db.Integer, db.ForeignKey("staff.id", ondelete="SET NULL"))
    customer_id = db.Column(db.String(64), index=True)
    email = db.Column(db.String(254), index=True)
    name = db.Column(db.String(200))
    phone = db.Column(db.String(40))
    currency = db.Column(db.String(3), nullable=False)
    total = db.Column(db.BigInteger, nullable=False)  # minor units
    # What of the total was shipping, when the storefront says (not refunded with items).
    shipping_total = db.Column(db.BigInteger)
    # Refunded through return requests so far; a refund never takes it past the total.
    refunded_total = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    payment_received = db.Column(db.Boolean, nullable=False, default=True)
    placed_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # When the parcel arrived: the return window counts from it (RETURN_WINDOW_FROM).
    delivered_at = db.Column(db.DateTime)
    # Attribution: set when the converted cart had been sent recovery emails.
    recovered_step = db.Column(db.Integer)
    recovery_clicked = db.Column(
        db.Boolean, nullable=False, default=False, server_default=db.false()
    )
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    items = db.relationship(
        "OrderItem",
        order_by="OrderItem.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        # Read where they are shown, with selectinload(Order.items): list pages and
        # exports show counts and totals only, and must not read every line.
        lazy="select",
    )
    incomplete_order = db.relationship("IncompleteOrder", viewonly=True)
    converted_by = db.relationship("Staff")

    __table_args__ = (
        db.CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        db.Index("ix_orders_placed_at", "placed_at", "id", "recovered_step"),
        db.Index("ix_orders_source_placed_at", "source", "placed_at", "id"),
        # The days of orders reported since the last analytics run (analytics.rollup).
        db.Index("ix_orders_created_at", "created_at"),
    )

    @property
    def source_label(self):
        return SOURCE_LABELS[self.source]


class OrderItem(LineItemColumns, db.Model):
    __tablename__ = "order_items"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(
        db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # What the line actually cost after discounts, when the storefront says; without it a
    # refund spreads the order's discount over its lines (dashboard/returns/refunds.py).
    paid_total = db.Column(db.BigInteger)
