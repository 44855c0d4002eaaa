"""Recovery steps: skipped ones recorded, each timed from the previous one's delivery

A cart remembers while one of its recovery emails waits in the outbox
(incomplete_orders.recovery_queued_at): no next step is queued until it went out, so steps
arrive in order even when delivery stalls. recovery_last_sent_at now says when the last one
went out, not when it was queued. A partial index serves the list's "paused" filter.

recovery_attempts.skipped_for: a step that was not sent because a later one was already due
(the scheduler was down, or the cart arrived late) names the step that went out instead.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("incomplete_orders") as batch:
        batch.add_column(sa.Column("recovery_queued_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("recovery_attempts") as batch:
        batch.add_column(sa.Column("skipped_for", sa.Integer(), nullable=True))
    # Partial indexes: the carts waiting for an email to go out, and the list's "paused"
    # filter (few carts are either).
    op.create_index(
        "ix_incomplete_orders_recovery_queued",
        "incomplete_orders",
        ["recovery_queued_at"],
        sqlite_where=sa.text("recovery_queued_at IS NOT NULL"),
        postgresql_where=sa.text("recovery_queued_at IS NOT NULL"),
    )
    op.create_index(
        "ix_incomplete_orders_paused",
        "incomplete_orders",
        ["recovery_paused_at"],
        sqlite_where=sa.text("recovery_paused_at IS NOT NULL"),
        postgresql_where=sa.text("recovery_paused_at IS NOT NULL"),
    )
    # Carts whose recovery email is still in the outbox wait for it.
    op.execute(
        """
        UPDATE incomplete_orders SET recovery_queued_at = recovery_last_sent_at
        WHERE id IN (
            SELECT record_id FROM outbox_messages
            WHERE kind = 'recovery' AND record_type = 'incomplete_order'
              AND status IN ('queued', 'sending')
        )
        """
    )


def downgrade():
    op.drop_index("ix_incomplete_orders_paused", table_name="incomplete_orders")
    op.drop_index("ix_incomplete_orders_recovery_queued", table_name="incomplete_orders")
    with op.batch_alter_table("recovery_attempts") as batch:
        batch.drop_column("skipped_for")
    with op.batch_alter_table("incomplete_orders") as batch:
        batch.drop_column("recovery_queued_at")
