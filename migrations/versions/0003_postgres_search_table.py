"""PostgreSQL: keep the search text in a table of its own

A status change rewrote the trigram GIN index of every changed row (an indexed column
changed, so no HOT update). With the text in its own table, kept by a trigger like
SQLite's FTS table, bulk status changes leave the search index alone.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DOCUMENT = (
    "lower(coalesce({t}.cart_id, '') || ' ' || coalesce({t}.email, '') || ' ' || "
    "coalesce({t}.name, '') || ' ' || coalesce({t}.phone, ''))"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_incomplete_orders_search")
    op.execute(
        "CREATE TABLE incomplete_order_search ("
        " incomplete_order_id integer PRIMARY KEY"
        " REFERENCES incomplete_orders(id) ON DELETE CASCADE,"
        " document text NOT NULL)"
    )
    op.execute(
        "INSERT INTO incomplete_order_search (incomplete_order_id, document) "
        f"SELECT id, {DOCUMENT.format(t='incomplete_orders')} FROM incomplete_orders"
    )
    op.execute(
        "CREATE INDEX ix_incomplete_order_search_document ON incomplete_order_search "
        "USING gin (document gin_trgm_ops)"
    )
    op.execute(
        "CREATE FUNCTION incomplete_order_search_sync() RETURNS trigger AS $$ BEGIN "
        "INSERT INTO incomplete_order_search (incomplete_order_id, document) "
        f"VALUES (NEW.id, {DOCUMENT.format(t='NEW')}) "
        "ON CONFLICT (incomplete_order_id) DO UPDATE SET document = EXCLUDED.document; "
        "RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER incomplete_order_search_sync "
        "AFTER INSERT OR UPDATE OF cart_id, email, name, phone ON incomplete_orders "
        "FOR EACH ROW EXECUTE FUNCTION incomplete_order_search_sync()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS incomplete_order_search_sync ON incomplete_orders")
    op.execute("DROP FUNCTION IF EXISTS incomplete_order_search_sync()")
    op.execute("DROP TABLE IF EXISTS incomplete_order_search")
    op.execute(
        "CREATE INDEX ix_incomplete_orders_search ON incomplete_orders "
        f"USING gin (({DOCUMENT.format(t='incomplete_orders')}) gin_trgm_ops)"
    )
