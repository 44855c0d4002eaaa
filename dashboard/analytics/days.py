"""Shop days in SQL: which calendar day (and hour) of the shop's zone a stored UTC time falls
on, the same way on SQLite and PostgreSQL.

Stored times are naive UTC. A shop day is a calendar day in SHOP_TIMEZONE: 23 hours on the
day clocks go forward, 25 on the day they go back. SQL has no portable time-zone
conversion, so the UTC offset is worked out in Python for the stretch of time a query
covers (it changes only at the zone's transitions, a few a year) and the query reads
`CASE WHEN t < transition THEN date(t + offset) ... END`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import DateTime, Integer, String

from dashboard.timeutil import shop_day_start_utc, shop_zone


def day_bounds(first, last):
    """[start, end) in naive UTC covering the shop days `first`..`last` (inclusive)."""
    return shop_day_start_utc(first), shop_day_start_utc(last + timedelta(days=1))


def days_between(first, last):
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def consecutive_runs(days):
    """[(first, last)] of the runs of consecutive days among `days`."""
    runs = []
    for day in sorted(days):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [tuple(run) for run in runs]


def shop_today(now):
    """The shop day `now` (naive UTC) falls on."""
    return now.replace(tzinfo=UTC).astimezone(shop_zone()).date()


def _offset(instant):
    """The zone's UTC offset at a naive UTC instant, in whole seconds."""
    return int(instant.replace(tzinfo=UTC).astimezone(shop_zone()).utcoffset().total_seconds())


@dataclass(frozen=True)
class Segment:
    until: datetime | None  # naive UTC; None for the last segment
    offset: int  # seconds


def offset_segments(start, end):
    """The zone's UTC offsets between two naive UTC instants: [Segment] in time order."""
    segments = []
    current = _offset(start)
    cursor = start
    while cursor < end:
        step = min(cursor + timedelta(days=1), end)
        if _offset(step) != current:
            low, high = cursor, step  # the transition is in (low, high]
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if _offset(middle) == current:
                    low = middle
                else:
                    high = middle
            high = high.replace(second=0, microsecond=0)
            if _offset(high) == current:  # transitions fall on whole minutes
                high += timedelta(minutes=1)
            segments.append(Segment(high, current))
            current = _offset(high)
            cursor = high
        else:
            cursor = step
    segments.append(Segment(None, current))
    return segments


class _Shifted(FunctionElement):
    """A part of `column + seconds`: 'date' (YYYY-MM-DD), 'hour' (0-23), 'dow' (0 = Sunday)
    or 'time' (a timestamp in the column's own form)."""

    # The shift and the part are in SQLAlchemy's cache key, so a statement compiles once per
    # shape (another offset or part is another statement), not once per request: the
    # analytics' live counts compiled for tens of milliseconds each time.
    inherit_cache = True
    _traverse_internals = FunctionElement._traverse_internals + [
        ("seconds", InternalTraversal.dp_plain_obj),
        ("part", InternalTraversal.dp_string),
    ]

    def __init__(self, column, seconds, part):
        self.seconds = int(seconds)
        self.part = part
        self.type = {"date": String(), "time": DateTime()}.get(part, Integer())
        super().__init__(column)


@compiles(_Shifted, "sqlite")
def _shifted_sqlite(element, compiler, **kw):
    (column,) = element.clauses
    text = compiler.process(column, **kw)
    shift = f"'{element.seconds:+d} seconds'"
    if element.part == "time":
        # datetime() drops the fraction; the shift is whole seconds, so put it back as it was.
        return f"(datetime({text}, {shift}) || substr({text}, 20))"
    fmt = {"date": "%Y-%m-%d", "hour": "%H", "dow": "%w"}[element.part]
    value = f"strftime('{fmt}', {text}, {shift})"
    return value if element.part == "date" else f"CAST({value} AS INTEGER)"


@compiles(_Shifted, "postgresql")
def _shifted_postgresql(element, compiler, **kw):
    (column,) = element.clauses
    shifted = f"({compiler.process(column, **kw)} + interval '{element.seconds} seconds')"
    if element.part == "time":
        return shifted
    if element.part == "date":
        return f"to_char({shifted}, 'YYYY-MM-DD')"
    field = {"hour": "hour", "dow": "dow"}[element.part]
    return f"CAST(extract({field} from {shifted}) AS INTEGER)"


def plus(column, delta: timedelta) -> ColumnElement:
    """`column + delta` (whole seconds) as SQL."""
    return _Shifted(column, delta.total_seconds(), "time")


def _local(column, start, end, part):
    segments = offset_segments(start, end)
    if len(segments) == 1:
        return _Shifted(column, segments[0].offset, part)
    return case(
        *((column < s.until, _Shifted(column, s.offset, part)) for s in segments[:-1]),
        else_=_Shifted(column, segments[-1].offset, part),
    )


def shop_day(column, start, end):
    """The shop day (YYYY-MM-DD text) of `column`, for times in [start, end)."""
    return _local(column, start, end, "date")


def shop_hour(column, start, end):
    return _local(column, start, end, "hour")


def weekday(day_column):
    """The weekday (0 = Sunday) of a stored shop day (a date column)."""
    return _Shifted(day_column, 0, "dow")


class _MonthStart(FunctionElement):
    """The first day of a stored shop day's month (a date column)."""

    inherit_cache = True
    type = String()


@compiles(_MonthStart, "sqlite")
def _month_start_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(_MonthStart, "postgresql")
def _month_start_postgresql(element, compiler, **kw):
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


def month_start(day_column):
    return _MonthStart(day_column)


def whole_months(first, last):
    """(first, last) month of the calendar months wholly inside first..last (each as its
    first day), or None."""
    start = first if first.day == 1 else _next_month(first)
    end = last.replace(day=1)
    if month_end(end) != last:  # the last month is cut short: the one before it
        end = (end - timedelta(days=1)).replace(day=1)
    return (start, end) if start <= end else None


def _next_month(day):
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_end(first_of_month):
    return _next_month(first_of_month) - timedelta(days=1)


def read_day(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value))
