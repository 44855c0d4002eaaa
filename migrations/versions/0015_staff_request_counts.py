"""Staff request counts and running exports

Staff routes get a per-minute limit counted like the API keys' (0002): one row per staff
member and clock minute, bumped by one upsert per request, so the limit holds across
processes and hosts. A CSV export holds a slot row in running_exports while it streams:
slots 0..N-1 per staff member ("staff:<id>") and for everyone ("everyone"), each with a
lease a crashed process cannot hold beyond; release deletes the export's rows by token.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:01:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_request_counts",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_request_counts_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "minute", name=op.f("pk_staff_request_counts")),
    )
    op.create_table(
        "running_exports",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "slot", name=op.f("pk_running_exports")),
    )
    with op.batch_alter_table("running_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_running_exports_token"), ["token"], unique=False)


def downgrade():
    with op.batch_alter_table("running_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_running_exports_token"))
    op.drop_table("running_exports")
    op.drop_table("staff_request_counts")
