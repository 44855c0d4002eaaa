"""Analytics: the recovery, step and product rollups summed per month

A long range read every stored day: two years are 35,000 recovery rows and 350,000 product
rows to add up on every /analytics/ section. Each month table holds the same figures summed
per calendar month of shop days (`day` is the month's first), rewritten with the month's
days by every run; a range reads its whole months here and only the days around them from
the day tables. Filled here from the days already stored.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 16:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

HOLDOUT = (
    "held_out",
    "held_out_converted",
    "held_out_revenue",
    "not_held_out",
    "not_held_out_emailed",
    "not_held_out_converted",
    "not_held_out_revenue",
)
MONEY = {
    "abandoned_value",
    "recovered_revenue",
    "net_recovered_revenue",
    "held_out_revenue",
    "not_held_out_revenue",
}
TABLES = {
    # month table: (day table, keys after the day, figures)
    "analytics_recovery_months": (
        "analytics_recovery_days",
        (
            ("stage", sa.String(length=20)),
            ("currency", sa.String(length=3)),
            ("value_band", sa.SmallInteger()),
            ("customer", sa.String(length=10)),
        ),
        (
            "abandoned",
            "abandoned_value",
            "recoverable",
            "emailed",
            "clicked",
            "recovered",
            "recovered_clicked",
            "recovered_revenue",
            "net_recovered_revenue",
            "late",
            "self_converted",
            "lost",
            "still_open",
            *HOLDOUT,
        ),
    ),
    "analytics_step_months": (
        "analytics_step_days",
        (
            ("step", sa.Integer()),
            ("stage", sa.String(length=20)),
            ("currency", sa.String(length=3)),
        ),
        ("sent", "failed", "withdrawn", "clicked", "recovered", "recovered_revenue", "unsubscribed"),
    ),
    "analytics_sku_months": (
        "analytics_sku_days",
        (("sku", sa.String(length=64)), ("stage", sa.String(length=20))),
        ("name", "carts", "units", "recovered"),
    ),
}


def _column(name):
    if name == "name":
        return sa.Column(name, sa.String(length=200), nullable=False)
    kind = sa.BigInteger() if name in MONEY else sa.Integer()
    return sa.Column(name, kind, nullable=False)


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    month = "CAST(date_trunc('month', day) AS DATE)" if postgresql else "date(day, 'start of month')"
    for table, (days, keys, figures) in TABLES.items():
        op.create_table(
            table,
            sa.Column("day", sa.Date(), nullable=False),
            *(sa.Column(name, kind, nullable=False) for name, kind in keys),
            *(_column(name) for name in figures),
            sa.PrimaryKeyConstraint("day", *(name for name, _ in keys), name=op.f(f"pk_{table}")),
        )
        key_names = ", ".join(name for name, _ in keys)
        sums = ", ".join(f"{'max' if name == 'name' else 'sum'}({name})" for name in figures)
        op.execute(
            f"INSERT INTO {table} (day, {key_names}, {', '.join(figures)}) "
            f"SELECT {month}, {key_names}, {sums} FROM {days} GROUP BY {month}, {key_names}"
        )


def downgrade():
    for table in TABLES:
        op.drop_table(table)
