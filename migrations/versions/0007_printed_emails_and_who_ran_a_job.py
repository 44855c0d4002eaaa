"""Outbox: a "printed" status for emails the console backend printed instead of sending;
job runs: who asked for a manual run

Development's console mail backend used to mark what it printed as "sent", so the outbox
(and the credit a recovery email gets) claimed customers had been mailed when nobody was.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:30:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed', 'withdrawn')"
NEW_STATUSES = "status IN ('queued', 'sending', 'sent', 'printed', 'failed', 'withdrawn')"


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_messages_status"), type_="check")
        batch_op.create_check_constraint("status", NEW_STATUSES)
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_by", sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("requested_by")
    # Printed emails were never delivered: back to the old statuses they count as failed.
    op.execute(
        "UPDATE outbox_messages SET status = 'failed', "
        "last_error = 'Printed by the console backend; not sent' WHERE status = 'printed'"
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_messages_status"), type_="check")
        batch_op.create_check_constraint("status", OLD_STATUSES)
