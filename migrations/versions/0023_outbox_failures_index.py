"""Outbox: failures of the last hour found by an index

The overview and the outbox warn managers about emails that failed in the last hour
(dashboard.outbox.health). No index held the status with the time a message was queued, so
on SQLite that count read the whole outbox, which keeps every email ever sent: 40 ms on
every outbox page with 170,000 messages, and growing with them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 12:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_status_created", ["status", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_status_created")
