"""PostgreSQL: status changes rewrite no index

An UPDATE that changes an indexed column writes a new entry into every index of the row:
expiring 13,500 carts wrote 165,000 WAL records (12 per cart: the row and 11 indexes) and
took 450 ms on PostgreSQL. Without the status in any index, a status change is a HOT update
(the new row version on the same page, no index touched) when the page has room for it:
the table keeps 30% of each page free for that. A bulk expire changes most rows of the
recent pages it touches (most recent carts are open): expiring 10,000 of 1,000,000 carts
took 373 ms with full pages, 328 ms with a fifth free (42% of its updates HOT) and 252 ms
with 30% free; the table of 1,000,000 carts is then 254 MB (175 MB with full pages).

The list's status filter then walks the sort index it pages by (open carts are the recent
ones, so their first pages come at once); the bulk expire's own update reads its date
range through the last-activity index; the overview's count per status reads the table
(a parallel scan, faster than the index was). SQLite keeps the index: it rewrites only the
indexes holding a changed column, and it plans the status filters with it. The model
still declares the index, for SQLite; migrations/env.py leaves it out of PostgreSQL's
comparison.

Existing pages are full until rewritten: an update moves a row off a full page (a plain
update, as before), and VACUUM then leaves that room behind, so the free space builds up
as the table is used.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 07:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

FILLFACTOR = 70


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_incomplete_orders_status_last_activity")
    op.execute(f"ALTER TABLE incomplete_orders SET (fillfactor = {FILLFACTOR})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE incomplete_orders RESET (fillfactor)")
    op.execute(
        "CREATE INDEX ix_incomplete_orders_status_last_activity "
        "ON incomplete_orders (status, last_activity_at, id)"
    )
