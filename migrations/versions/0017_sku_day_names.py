"""Analytics: the SKU rollup indexed by SKU, for a product's name

The top abandoned products show each SKU's name, read from its newest stored day. Without
an index that read every stored product row (two years of them: 350,000 rows, about 100 ms
on SQLite for each /analytics/ patterns section).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 16:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("analytics_sku_days", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_sku_days_sku_day", ["sku", "day"], unique=False)


def downgrade():
    with op.batch_alter_table("analytics_sku_days", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_sku_days_sku_day")
