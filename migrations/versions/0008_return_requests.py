"""Return requests, and what an order must say for a refund to be right

Return requests (RMA-000123) with their lines (requested, approved, received and damaged
quantities), the history the customer reads and the notes only staff read.

Orders learn what a refund is computed from: when the parcel was delivered (the return
window counts from it), what each line actually cost after discounts and what was
shipping (without them the order's discount is spread over its lines, as an estimate),
and how much has been refunded so far (a refund never takes it past the total).

Indexes are the desk's filters: status + submitted (the pending queue, oldest first),
submitted alone (every status), status + ship-by (overdue returns), the order, the
customer's email (their other requests) and the SKU (search).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ORDER_COLUMNS = ("delivered_at", "refunded_total", "shipping_total")


def upgrade():
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_total", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipping_total", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("refunded_total", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(), nullable=True))

    op.create_table(
        "return_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("units_requested", sa.Integer(), nullable=False),
        sa.Column("value_requested", sa.BigInteger(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(length=254), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("ship_by_at", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("received_by", sa.String(length=254), nullable=True),
        sa.Column("receipt_note", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by", sa.String(length=254), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=254), nullable=True),
        sa.Column("customer_note", sa.Text(), nullable=True),
        sa.Column("rejection_reason", sa.String(length=20), nullable=True),
        sa.Column("refund_amount", sa.BigInteger(), nullable=True),
        sa.Column("refund_computed", sa.BigInteger(), nullable=True),
        sa.Column("refund_method", sa.String(length=20), nullable=True),
        sa.Column("refund_reference", sa.String(length=100), nullable=True),
        sa.Column("refund_note", sa.Text(), nullable=True),
        sa.Column("overridden_rules", sa.String(length=200), nullable=True),
        sa.Column("override_note", sa.Text(), nullable=True),
        sa.Column("overridden_by", sa.String(length=254), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "reason IN ('damaged', 'wrong_item', 'not_as_described', 'size_or_fit', 'changed_mind', 'late_delivery', 'other')",
            name=op.f("ck_return_requests_reason"),
        ),
        sa.CheckConstraint(
            "refund_method IN ('original_payment', 'store_credit', 'replacement')",
            name=op.f("ck_return_requests_refund_method"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled', 'received', 'completed')",
            name=op.f("ck_return_requests_status"),
        ),
        sa.CheckConstraint(
            "type IN ('return', 'exchange', 'refund')", name=op.f("ck_return_requests_type")
        ),
        sa.CheckConstraint("refund_amount >= 0", name=op.f("ck_return_requests_refund_amount")),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_return_requests_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_return_requests_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_requests")),
        sa.UniqueConstraint("api_key_id", "idempotency_key", name="uq_return_requests_idempotency"),
        sa.UniqueConstraint("number", name=op.f("uq_return_requests_number")),
    )
    with op.batch_alter_table("return_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_return_requests_email_submitted", ["email", "submitted_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_return_requests_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_return_requests_status_ship_by", ["status", "ship_by_at"], unique=False
        )
        batch_op.create_index(
            "ix_return_requests_status_submitted", ["status", "submitted_at", "id"], unique=False
        )
        batch_op.create_index("ix_return_requests_submitted", ["submitted_at", "id"], unique=False)

    op.create_table(
        "return_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_request_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_label", sa.String(length=254), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "event IN ('submitted', 'approved', 'rejected', 'received', 'completed', 'cancelled')",
            name=op.f("ck_return_events_event"),
        ),
        sa.ForeignKeyConstraint(
            ["return_request_id"],
            ["return_requests.id"],
            name=op.f("fk_return_events_return_request_id_return_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_events")),
    )
    with op.batch_alter_table("return_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_return_events_return_request_id"), ["return_request_id"], unique=False
        )

    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_request_id", sa.Integer(), nullable=False),
        sa.Column("order_item_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity_requested", sa.Integer(), nullable=False),
        sa.Column("quantity_approved", sa.Integer(), nullable=True),
        sa.Column("quantity_received", sa.Integer(), nullable=True),
        sa.Column("quantity_damaged", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "reason IN ('damaged', 'wrong_item', 'not_as_described', 'size_or_fit', 'changed_mind', 'late_delivery', 'other')",
            name=op.f("ck_return_lines_reason"),
        ),
        sa.CheckConstraint(
            "quantity_approved >= 0 AND quantity_approved <= quantity_requested",
            name=op.f("ck_return_lines_approved"),
        ),
        sa.CheckConstraint(
            "quantity_damaged >= 0 AND quantity_damaged <= quantity_received",
            name=op.f("ck_return_lines_damaged"),
        ),
        sa.CheckConstraint(
            "quantity_received >= 0 AND quantity_received <= quantity_approved",
            name=op.f("ck_return_lines_received"),
        ),
        sa.CheckConstraint("quantity_requested > 0", name=op.f("ck_return_lines_requested")),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_return_lines_order_item_id_order_items"),
        ),
        sa.ForeignKeyConstraint(
            ["return_request_id"],
            ["return_requests.id"],
            name=op.f("fk_return_lines_return_request_id_return_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_lines")),
    )
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_return_lines_order_item_id"), ["order_item_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_return_lines_return_request_id"), ["return_request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_return_lines_sku"), ["sku"], unique=False)

    op.create_table(
        "return_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_request_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["return_request_id"],
            ["return_requests.id"],
            name=op.f("fk_return_notes_return_request_id_return_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_return_notes_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_notes")),
    )
    with op.batch_alter_table("return_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_return_notes_return_request_id"), ["return_request_id"], unique=False
        )


def downgrade():
    op.drop_table("return_notes")
    op.drop_table("return_events")
    op.drop_table("return_lines")
    op.drop_table("return_requests")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place (3.35+). Batch mode would copy the table and drop
        # the old one, and with foreign keys on, dropping orders deletes every order item.
        for column in ORDER_COLUMNS:
            op.execute(f"ALTER TABLE orders DROP COLUMN {column}")
        op.execute("ALTER TABLE order_items DROP COLUMN paid_total")
        return
    for column in ORDER_COLUMNS:
        op.drop_column("orders", column)
    op.drop_column("order_items", "paid_total")
