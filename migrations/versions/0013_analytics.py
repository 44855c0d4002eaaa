"""Analytics: abandonment time and daily rollups

A cart's abandonment time (last activity + the first recovery delay) is stored once, by the
analytics run, and never cleared: the day a cart is counted on cannot move when the delays
change later. Indexed, as every report and the lists' "abandoned" filter read a range of it.

The rollup tables hold one row per shop day and breakdown. Their keys are the breakdowns
(no surrogate id): a run replaces a day's rows, and the page reads a range of days.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _counts(*names):
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _money(*names):
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def upgrade():
    with op.batch_alter_table("incomplete_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("abandoned_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_incomplete_orders_abandoned_at"), ["abandoned_at"], unique=False
        )

    op.create_table(
        "analytics_recovery_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value_band", sa.SmallInteger(), nullable=False),
        sa.Column("customer", sa.String(length=10), nullable=False),
        *_counts("abandoned"),
        *_money("abandoned_value"),
        *_counts("recoverable", "emailed", "clicked", "recovered", "recovered_clicked"),
        *_money("recovered_revenue", "net_recovered_revenue"),
        *_counts("late", "self_converted", "lost", "still_open"),
        sa.PrimaryKeyConstraint(
            "day",
            "stage",
            "currency",
            "value_band",
            "customer",
            name=op.f("pk_analytics_recovery_days"),
        ),
    )
    op.create_table(
        "analytics_step_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_counts("sent", "failed", "withdrawn", "clicked", "recovered"),
        *_money("recovered_revenue"),
        *_counts("unsubscribed"),
        sa.PrimaryKeyConstraint(
            "day", "step", "stage", "currency", name=op.f("pk_analytics_step_days")
        ),
    )
    op.create_table(
        "analytics_hour_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        *_counts("abandoned", "recovered"),
        sa.PrimaryKeyConstraint("day", "hour", "stage", name=op.f("pk_analytics_hour_days")),
    )
    op.create_table(
        "analytics_sku_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *_counts("carts", "units", "recovered"),
        sa.PrimaryKeyConstraint("day", "sku", "stage", name=op.f("pk_analytics_sku_days")),
    )
    op.create_table(
        "analytics_return_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_counts(
            "requests",
            "units",
            "requests_on_recovered_orders",
            "approved",
            "rejected",
            "decided_within_sla",
        ),
        sa.Column("decision_hours", sa.Text(), nullable=False),
        *_counts("received"),
        sa.Column("receipt_hours", sa.Text(), nullable=False),
        *_counts("completed"),
        sa.Column("completion_hours", sa.Text(), nullable=False),
        *_money("refunded", "refunded_original_payment", "refunded_store_credit"),
        *_counts("replacements"),
        sa.PrimaryKeyConstraint(
            "day", "type", "reason", "currency", name=op.f("pk_analytics_return_days")
        ),
    )
    op.create_table(
        "analytics_rolled_days",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "day", name=op.f("pk_analytics_rolled_days")),
    )


def downgrade():
    op.drop_table("analytics_rolled_days")
    op.drop_table("analytics_return_days")
    # IF EXISTS: a database upgraded to an early version of this revision has no such table.
    op.execute("DROP TABLE IF EXISTS analytics_sku_days")
    op.drop_table("analytics_hour_days")
    op.drop_table("analytics_step_days")
    op.drop_table("analytics_recovery_days")
    with op.batch_alter_table("incomplete_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incomplete_orders_abandoned_at"))
        batch_op.drop_column("abandoned_at")
