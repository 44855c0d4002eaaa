"""Outbox: content may be written when a message goes out; withdrawn status

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 12:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed')"
NEW_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed', 'withdrawn')"


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_messages_status"), type_="check")
        batch_op.create_check_constraint("status", NEW_STATUSES)
        batch_op.alter_column("subject", existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=True)


def downgrade():
    # Messages never written cannot go back to a table that requires content; nor can a
    # withdrawn status.
    op.execute("DELETE FROM outbox_messages WHERE body_html IS NULL OR status = 'withdrawn'")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_messages_status"), type_="check")
        batch_op.create_check_constraint("status", OLD_STATUSES)
        batch_op.alter_column("subject", existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=False)
