"""Staff passwords: temporary ones, and sessions that end

A signed session cookie cannot be revoked, so every staff member carries a session
version: sessions and remember cookies name it, and a sign-out, a deactivation or a new
password moves it on, which ends every session signed in before. A password a manager set
is temporary: it must be changed at the next sign-in.

The outbox gets an index on the recipient (lower case), so looking up every email to one
address stays an index read however long the outbox grows; the audit log gets one on its
time, so a date range finds its first and last event with two seeks.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column(
                "password_must_change", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_to_email", [sa.text("lower(to_email)"), "id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_created_at")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_to_email")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("password_must_change")
        batch_op.drop_column("session_version")
