"""Analytics: the heat table's hours summed per month and weekday

The weekday × hour heat table of a long range worked out the weekday of each stored hour
row (two years: 70,000 rows, 125 ms on SQLite). This table holds the same counts per
calendar month, weekday (0 = Sunday) and hour, rewritten with the month's days by every
run, as the other month tables (0019). Filled here from the hours already stored.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 16:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "analytics_hour_months",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("recovered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "weekday", "hour", "stage", name=op.f("pk_analytics_hour_months")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        month = "CAST(date_trunc('month', day) AS DATE)"
        weekday = "CAST(extract(dow from day) AS INTEGER)"
    else:
        month = "date(day, 'start of month')"
        weekday = "CAST(strftime('%w', day) AS INTEGER)"
    op.execute(
        "INSERT INTO analytics_hour_months (day, weekday, hour, stage, abandoned, recovered) "
        f"SELECT {month}, {weekday}, hour, stage, sum(abandoned), sum(recovered) "
        f"FROM analytics_hour_days GROUP BY {month}, {weekday}, hour, stage"
    )


def downgrade():
    op.drop_table("analytics_hour_months")
