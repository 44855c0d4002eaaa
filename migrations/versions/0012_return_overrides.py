"""Return requests: a manager's override of an eligibility rule

A manager may let a line through a rule that would refuse it (outside the return window,
final sale, a refund for a reason that is not the shop's fault), with a note: each line
records which rules were overridden for it (the request already records who and why).

PostgreSQL also gets a trigram index on the requests' email, so the desk's search by a
fragment of an address reads the index instead of every request.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overridden_rules", sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_return_requests_email_trgm ON return_requests "
            "USING gin (email gin_trgm_ops)"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_return_requests_email_trgm")
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.drop_column("overridden_rules")
