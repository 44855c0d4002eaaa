"""What a cart's snapshots changed, for its timeline

The storefront sends whole snapshots; once one is applied, the previous content is gone.
So the upsert writes a small row per snapshot that changed something (created with its
items; stage, items added / removed / re-counted, contact), one INSERT and only when
something changed: a heartbeat snapshot writes nothing. Indexed by cart and time, as the
cart's page reads them; deleted with their cart.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "incomplete_order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incomplete_order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incomplete_order_id"],
            ["incomplete_orders.id"],
            name=op.f("fk_incomplete_order_events_incomplete_order_id_incomplete_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incomplete_order_events")),
    )
    with op.batch_alter_table("incomplete_order_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incomplete_order_events_order", ["incomplete_order_id", "at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("incomplete_order_events", schema=None) as batch_op:
        batch_op.drop_index("ix_incomplete_order_events_order")
    op.drop_table("incomplete_order_events")
