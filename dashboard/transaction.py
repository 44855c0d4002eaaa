"""One commit per request: services flush, the view commits once through `committed()`.

    with committed() as change:
        service.change_status(order, "expire", actor)
    if change.ok:
        flash("Expired.", "success")

A `DomainError` raised inside the block (a change the rules refuse) rolls everything back
and its message is flashed to the person who asked (`show=False` leaves showing it to the
view, e.g. as a toast on an htmx request). Any other exception rolls back and propagates (a 500, logged).
"""

from contextlib import contextmanager
from dataclasses import dataclass

from flask import flash

from dashboard.extensions import db


class DomainError(Exception):
    """A change the rules refuse. The message says what went wrong and what to do; it is
    shown as it is to the staff member (or API caller) who asked."""


@dataclass
class Change:
    """What became of a `committed()` block."""

    refused: DomainError | None = None

    @property
    def ok(self):
        return self.refused is None

    @property
    def message(self):
        return str(self.refused) if self.refused else None


@contextmanager
def committed(category="danger", show=True):
    """Commit the block's changes; on a DomainError roll back and (with `show`) flash its
    message with `category`. The caller reads `change.ok` / `change.refused` afterwards."""
    change = Change()
    try:
        yield change
    except DomainError as refused:
        db.session.rollback()
        change.refused = refused
        if show:
            flash(str(refused), category)
    except BaseException:
        db.session.rollback()
        raise
    else:
        db.session.commit()


def run_in_transaction(work, *args, **kwargs):
    """For runners and commands (never views): do `work` in a transaction of its own and
    commit it, or roll back and re-raise. Returns what `work` returned."""
    try:
        result = work(*args, **kwargs)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result
