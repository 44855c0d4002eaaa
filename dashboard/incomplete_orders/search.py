"""Substring search over an incomplete order's cart id, email, name and phone, and an exact
match on its customer id.

Both databases keep the text in a table of its own, incomplete_order_search, filled by
triggers (migrations 0001 and 0003), so status changes never touch the search index:
SQLite an FTS5 table with the trigram tokenizer, PostgreSQL a table with a pg_trgm GIN
index. Both need three characters or more. The customer id is matched exactly (as typed,
or in upper or lower case) on its own index: the storefront's ids are codes, not words.

The matching ids are gathered first, stopping once there are more than SEARCH_IDS_CAP: a
narrow search (an email, a name) then reads just those carts by id. Left to itself,
PostgreSQL guessed a trigram match at 1% of the carts and read the whole activity index to
join them (22 carts matched "finn.koehler4": 45 ms for 200,000 carts, growing with them).
A broad search (a fragment such as "example") keeps the condition, tested in the page's
order, where a page of matches comes at once.
"""

from sqlalchemy import column, literal_column, select, table, text, union

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.listing import search_by_ids

MIN_SEARCH_LENGTH = 3
SEARCH_IDS_CAP = 500

_fts = table("incomplete_order_search", literal_column("rowid"))
_pg_search = table("incomplete_order_search", column("incomplete_order_id"), column("document"))


def _customer_id_matches(query):
    typed = query.strip()
    return select(IncompleteOrder.id).where(
        IncompleteOrder.customer_id.in_(sorted({typed, typed.upper(), typed.lower()}))
    )


def search_condition(dialect_name, id_column, query):
    needle = query.strip().lower()
    if dialect_name == "sqlite":
        phrase = '"' + needle.replace('"', '""') + '"'
        matches = (
            select(literal_column("rowid"))
            .select_from(_fts)
            .where(text("incomplete_order_search MATCH :phrase").bindparams(phrase=phrase))
        )
    else:
        matches = select(_pg_search.c.incomplete_order_id).where(
            _pg_search.c.document.contains(needle, autoescape=True)
        )
    by_customer_id = _customer_id_matches(query)
    return search_by_ids(
        db.session,
        id_column,
        (matches, by_customer_id),
        broad=id_column.in_(union(matches, by_customer_id)),
        cap=SEARCH_IDS_CAP,
    )
