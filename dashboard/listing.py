"""Every list page in one shape: keyset pages, bounded counts and allow-listed sorts that stay
fast at a million rows, and the `ListResult` a list view renders.

A list is declared by its domain as a GET filter form (`dashboard.forms.FilterForm`), a
queries module with `filtered(filters)` (a select of the rows the filters match) and its
`Sorts`, and a `_table.html`; `list_page()` turns a filled-in form into a `ListResult`.
"""

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import false, func, select, tuple_, union_all

from dashboard.money import MAX_MINOR_UNITS

COUNT_CAP = 10_000


@dataclass(frozen=True)
class SortOption:
    """An allow-listed sort: the URL key, its label, the column and how to read a cursor."""

    key: str
    label: str
    column: object
    parse: object  # str -> value of the column

    def encode(self, value):
        return value.isoformat() if isinstance(value, datetime) else str(value)


MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
MAX_AMOUNT = MAX_MINOR_UNITS  # no stored amount or count is larger


def parse_datetime(text):
    return datetime.fromisoformat(text)


def parse_amount(text):
    """An integer no larger than any stored amount; ValueError otherwise (cursor ignored)."""
    value = int(text)
    if abs(value) > MAX_AMOUNT:
        raise ValueError(text)
    return value


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    prev_cursor: str | None
    is_first: bool
    is_last: bool


def _cursor(prefix, sort, row, id_attr):
    return f"{prefix}~{sort.encode(getattr(row, sort.column.key))}~{getattr(row, id_attr)}"


def parse_cursor(text, sort):
    """("after"|"before", value, id), ("last", None, None) or None for the first page."""
    if not text:
        return None
    if text == "last":
        return ("last", None, None)
    try:
        direction, value, row_id = text.split("~")
        if direction not in ("after", "before"):
            raise ValueError
        row_id = int(row_id)
        if not 0 < row_id <= MAX_ID:
            raise ValueError(row_id)
        return (direction, sort.parse(value), row_id)
    except ValueError:
        return None


def keyset_page(session, stmt, sort, id_column, descending, cursor_text, page_size):
    """One page of `stmt` ordered by (sort column, id), from a cursor in the query string.

    An unreadable cursor falls back to the first page rather than failing.
    """

    def fetch(query):
        return list(session.scalars(query))

    column = sort.column
    cursor = parse_cursor(cursor_text, sort)
    forward = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    backward = (column.asc(), id_column.asc()) if descending else (column.desc(), id_column.desc())
    key = tuple_(column, id_column)

    if cursor is None:
        rows = fetch(stmt.order_by(*forward).limit(page_size + 1))
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        is_first, is_last = True, not has_more
    elif cursor[0] == "after":
        bound = tuple_(cursor[1], cursor[2])
        cond = key < bound if descending else key > bound
        rows = fetch(stmt.where(cond).order_by(*forward).limit(page_size + 1))
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        is_first, is_last = False, not has_more
    else:
        if cursor[0] == "before":
            bound = tuple_(cursor[1], cursor[2])
            cond = key > bound if descending else key < bound
            rows = fetch(stmt.where(cond).order_by(*backward).limit(page_size + 1))
            is_last = False
        else:  # last page
            rows = fetch(stmt.order_by(*backward).limit(page_size + 1))
            is_last = True
        has_more = len(rows) > page_size
        rows = list(reversed(rows[:page_size]))
        is_first = not has_more

    id_attr = id_column.key
    return Page(
        rows=rows,
        next_cursor=None if is_last or not rows else _cursor("after", sort, rows[-1], id_attr),
        prev_cursor=None if is_first or not rows else _cursor("before", sort, rows[0], id_attr),
        is_first=is_first,
        is_last=is_last,
    )


@dataclass(frozen=True)
class Count:
    """How many rows match, counted up to a cap: "10,000+" rather than a scan of millions."""

    value: int
    capped: bool = False

    def __str__(self):
        return f"{self.value:,}{'+' if self.capped else ''}"

    def words(self, one, many):
        """ "1 email", "4 emails", "10,000+ emails"."""
        return f"{self} {one if self.value == 1 and not self.capped else many}"


def bounded_count(session, stmt, id_column, cap=COUNT_CAP):
    """(count, capped): counting stops after `cap` rows so a huge match stays cheap."""
    inner = stmt.with_only_columns(id_column).order_by(None).limit(cap + 1).subquery()
    count = session.scalar(select(func.count()).select_from(inner))
    return min(count, cap), count > cap


def count_rows(session, stmt, id_column, cap=COUNT_CAP):
    """The bounded `Count` of the rows `stmt` selects."""
    return Count(*bounded_count(session, stmt, id_column, cap))


def search_by_ids(session, id_column, matches, broad, cap):
    """A search's condition on `id_column`, from `matches` (selects of matching ids, one per
    way of matching). The ids are gathered first, stopping after `cap`: a narrow search
    becomes `id IN (those ids)`, read by id, where a planner may guess a text match at
    thousands of rows and test every row in the page's order; a broader one is `broad`
    (the same matches as a condition), tested in the page's order, where a page of matches
    comes at once."""
    found = session.scalars(union_all(*matches).limit(cap + 1)).all()
    if len(found) > cap:
        return broad
    return id_column.in_(set(found)) if found else false()


@dataclass
class ListResult:
    """What a list page shows: one page of rows with its cursor links, how many match (None
    when the page asks for the count on a request of its own), the sort in effect and the
    filter form with the state it was filled in with."""

    page: Page
    sort_key: str
    form: object
    count: Count | None = None
    state: dict = field(default_factory=dict)
    # What a domain reads for the page's rows in one query per kind ({row id: ...}).
    row_states: dict = field(default_factory=dict)

    @property
    def rows(self):
        return self.page.rows

    @property
    def filtered(self):
        """Whether any filter, search or sort is set (an empty list then means "no match")."""
        return bool(self.state)

    @property
    def query_string(self):
        """The list's state as a query string, without the cursor: for the count, the
        export and "all matching this filter"."""
        return urlencode(self.state)


def form_state(form):
    """The query-string values a filter form was filled in with (as typed, errors
    included, so the count and the export read what the page shows), without the cursor."""
    return {
        name: f.raw_data[0]
        for name, f in form._fields.items()
        if name != "cursor" and f.raw_data and f.raw_data[0] != ""
    }


def list_page(session, form, filtered, sorts, id_column, page_size, count=True):
    """The `ListResult` for a filter form filled in from the query string.

    `filtered(filters)` is the domain's select of matching rows; `count=False` leaves the
    count to a request of its own (a list whose count may scan a million rows).
    """
    filters = form.valid_data()
    sort, descending = sorts.resolve(filters.get("sort"))
    stmt = filtered(filters)
    page = keyset_page(session, stmt, sort, id_column, descending, filters.get("cursor"), page_size)
    return ListResult(
        page=page,
        sort_key=("-" if descending else "") + sort.key,
        form=form,
        count=count_rows(session, stmt, id_column) if count else None,
        state=form_state(form),
    )


class Sorts:
    """The allow-list of sorts for one list; `-key` sorts descending."""

    def __init__(self, options, default):
        self.options = {option.key: option for option in options}
        self.default = default

    def choices(self):
        for option in self.options.values():
            yield (
                f"-{option.key}",
                f"{option.label}, high to low"
                if option.parse is not parse_datetime
                else f"{option.label}, newest first",
            )
            yield (
                option.key,
                f"{option.label}, low to high"
                if option.parse is not parse_datetime
                else f"{option.label}, oldest first",
            )

    def resolve(self, value):
        """(option, descending) for an allow-listed value, else the default."""
        value = value if value and value.lstrip("-") in self.options else self.default
        return self.options[value.lstrip("-")], value.startswith("-")
