"""Substring search over an incomplete order's cart id, email, name and phone.

Both databases keep the text in a table of its own, incomplete_order_search, filled by
triggers (migrations 0001 and 0003), so status changes never touch the search index:
SQLite an FTS5 table with the trigram tokenizer, PostgreSQL a table with a pg_trgm GIN
index. Both need three characters or more.
"""

from sqlalchemy import column, literal_column, select, table, text

MIN_SEARCH_LENGTH = 3

_fts = table("incomplete_order_search", literal_column("rowid"))
_pg_search = table("incomplete_order_search", column("incomplete_order_id"), column("document"))


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
    matches = select(_pg_search.c.incomplete_order_id).where(
        _pg_search.c.document.contains(needle, autoescape=True)
    )
    return id_column.in_(matches)
