"""Recovery holdout: each cart's group, and the daily figures of the comparison

`incomplete_orders.recovery_holdout` is the group a cart was put in when its email arrived
(dashboard.recovery.holdout): true held out (it gets no recovery email), false emailed,
NULL when the holdout was off. Stored, not computed when read: the group must stay the
one the cart was treated as after RECOVERY_HOLDOUT_PERCENT changes, and the recovery run
and the rollups read it as a plain column. Carts from before this revision are in no
group. No index: it is only ever read beside the columns that narrow a query.

`analytics_recovery_days` gains the comparison's counts per day: the carts in it held out
and not, how many of each converted and their orders' totals, and how many of the ones
not held out were actually emailed. Days stored before this revision hold zeros, which is
what a recount says too (their carts are in no group).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

COUNTS = (
    "held_out",
    "held_out_converted",
    "not_held_out",
    "not_held_out_emailed",
    "not_held_out_converted",
)
MONEY = ("held_out_revenue", "not_held_out_revenue")


def upgrade():
    with op.batch_alter_table("incomplete_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovery_holdout", sa.Boolean(), nullable=True))
    with op.batch_alter_table("analytics_recovery_days", schema=None) as batch_op:
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        for name in MONEY:
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )


def downgrade():
    with op.batch_alter_table("analytics_recovery_days", schema=None) as batch_op:
        for name in (*COUNTS, *MONEY):
            batch_op.drop_column(name)
    with op.batch_alter_table("incomplete_orders", schema=None) as batch_op:
        batch_op.drop_column("recovery_holdout")
