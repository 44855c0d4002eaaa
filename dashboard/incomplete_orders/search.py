"""Substring search over an incomplete order's cart id, email, name and phone.

SQLite keeps an FTS5 trigram index (incomplete_order_search, kept by triggers);
PostgreSQL a pg_trgm GIN index on the same text. Both need three characters or more.
"""

from sqlalchemy import literal_column, select, table, text

MIN_SEARCH_LENGTH = 3

# Must stay identical to the expression the migration indexes.
SEARCH_DOCUMENT_SQL = (
    "lower(coalesce(cart_id, '') || ' ' || coalesce(email, '') || ' ' || "
    "coalesce(name, '') || ' ' || coalesce(phone, ''))"
)

_fts = table("incomplete_order_search", literal_column("rowid"))


def search_condition(dialect_name, id_column, query):
    needle = query.strip().lower()
    if dialect_name == "sqlite":
        phrase = '"' + needle.replace('"', '""') + '"'
        matches = (
            select(literal_column("rowid"))
            .select_from(_fts)
            .where(text("incomplete_order_search MATCH :phrase").bindparams(phrase=phrase))
        )
        return id_column.in_(matches)
    return literal_column(SEARCH_DOCUMENT_SQL).contains(needle, autoescape=True)
