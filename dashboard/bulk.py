"""Bulk actions on a list: declared once in their domain, asked, confirmed and run the same way.

A domain declares its actions (`BulkAction`: the words, the role it needs, the reasons a
row is left out, how it runs) and groups them for one list (`BulkActions`); see
`dashboard/incomplete_orders/bulk.py`. The list's bulk view then reads the request
(`read_request`: the action, the role check, the selection), shows the confirm step
(`confirm_step`), and inside the request's one commit runs it (`run`), which says what
happened (`done`).

The selection is the ticked ids, or every row matching the list's filter (its query string
posted back). The confirm step counts in one grouped query how many rows will change and,
per reason, how many will not: each row is counted under the first reason that holds for it,
the same conditions the action's own statement leaves out.
"""

from dataclasses import dataclass
from urllib.parse import parse_qsl

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case, func, literal, select
from werkzeug.datastructures import MultiDict

from dashboard.extensions import db
from dashboard.forms import BulkForm
from dashboard.htmx import is_htmx, render_page_or_fragment, toast
from dashboard.listing import MAX_ID
from dashboard.transaction import DomainError

# Ticked ids come from one page of a list; more than this is not a page of ours.
MAX_TICKED = 1000
WILL_CHANGE = -1  # the reason index of a row nothing leaves out
# A destructive action on more rows than this runs only when the person types how many
# will change: a slip of the mouse or a stray Enter cannot cancel 16,878 carts.
TYPE_COUNT_ABOVE = 1000


class CountNotTyped(DomainError):
    """A big destructive bulk action confirmed without typing how many rows will change
    (or with another number): nothing was changed."""


@dataclass(frozen=True)
class BulkAction:
    """One thing staff can do to many rows at once.

    `confirm` and `done` are sentences with `{things}` for "5 incomplete orders";
    `label` names the button ("Expire…") and the confirm button ("Expire 5").
    `left_out()` gives `(reason, SQL condition)` pairs, in order: the rows the action
    leaves as they are and why (a row counts under the first reason that holds).
    `run(condition, actor, selection)` changes every row `condition` selects that no reason
    leaves out, flushing only, and returns how many changed; `selection` describes the
    selection for the audit event.
    `go` labels the confirm button (`{count}`: how many will change); `rule` says in a
    sentence which rows the action applies to, shown when some are left out.
    `destructive`: hard to take back (red buttons). No confirm step ever puts the keyboard
    focus on its confirm button: a stray Enter must not change 16,878 rows.
    """

    name: str
    label: str
    confirm: str
    done: str
    role: str
    left_out: object
    run: object
    go: str = "{label} {count}"
    rule: str = ""
    destructive: bool = True
    # A confirm step that asks for more (extends components/_bulk_confirm.html).
    confirm_template: str = "components/_bulk_confirm.html"

    def go_label(self, count):
        return self.go.format(label=self.label, count=f"{count:,}")

    def needs_typed_count(self, count):
        """Whether the confirm step asks to type `count` before this action runs."""
        return self.destructive and count > TYPE_COUNT_ABOVE


@dataclass(frozen=True)
class BulkActions:
    """The bulk actions of one list.

    `in_filter(filters)` is the condition for "all matching this filter", from the valid data
    of the list's `filter_form`; `changed_event` is the event (HX-Trigger) a list container
    with `data-refresh-on="<event>"` reloads on after an action ran.
    """

    one: str
    many: str
    id_column: object
    filter_form: type
    in_filter: object
    actions: tuple
    changed_event: str

    def get(self, name):
        return next((a for a in self.actions if a.name == name), None)

    def things(self, count):
        return f"{count:,} {self.one if count == 1 else self.many}"

    def allowed(self, user):
        """The actions `user`'s role may run (the buttons the bulk bar shows)."""
        return [a for a in self.actions if user.has_role(a.role)]


@dataclass(frozen=True)
class Selection:
    """The rows a bulk form picks: ticked ids, or (ids None) all matching the list's filter."""

    condition: object
    ids: list | None
    filter_query: str

    @property
    def all_matching(self):
        return self.ids is None

    @property
    def description(self):
        """For the audit event: which ids were ticked, or which filter."""
        return {"filter": self.filter_query} if self.all_matching else {"ids": len(self.ids)}

    @property
    def word(self):
        return "matching this filter" if self.all_matching else "selected"


@dataclass(frozen=True)
class Counts:
    """What an action would do to a selection: `will_change` of `selected`, and per reason
    (in the action's order, only reasons that hold for some row) how many stay as they are."""

    selected: int
    will_change: int
    left_out: tuple  # ((reason, count), ...)

    @property
    def staying(self):
        return self.selected - self.will_change


@dataclass(frozen=True)
class BulkRequest:
    """A bulk POST, read: the list's actions, the one asked for, the selection, and whether
    the person has confirmed it."""

    actions: BulkActions
    action: BulkAction
    selection: Selection
    confirmed: bool
    typed_count: str = ""  # what the person typed as the count, for big destructive ones

    @property
    def nothing_selected(self):
        return self.selection.ids == []


def read_request(actions):
    """The `BulkRequest` of the current POST. 400 for an unknown action or a malformed
    selection; 403 when the person's role is below the one the action needs."""
    form = BulkForm()
    action = actions.get(form.action.data) if form.validate() else None
    if action is None:
        abort(400)
    if not current_user.has_role(action.role):
        abort(403)
    return BulkRequest(
        actions,
        action,
        selection(actions, form),
        bool(form.confirm.data),
        request.form.get("typed_count", "")[:20],
    )


def selection(actions, form):
    """The ticked ids, or (all_matching) everything the posted filter query matches."""
    filter_query = form.filter_query.data or ""
    if form.all_matching.data:
        filter_form = actions.filter_form(MultiDict(parse_qsl(filter_query)))
        return Selection(actions.in_filter(filter_form.valid_data()), None, filter_query)
    try:
        ids = sorted({int(v) for v in request.form.getlist("ids")})
    except ValueError:
        abort(400)
    if len(ids) > MAX_TICKED or not all(0 < row_id <= MAX_ID for row_id in ids):
        abort(400)  # more than a page, or an id no table holds
    return Selection(actions.id_column.in_(ids), ids, filter_query)


def count(actions, action, selection):
    """The `Counts` of `action` on `selection`, in one query: each row gets the index of the
    first reason that leaves it out (or WILL_CHANGE), grouped."""
    reasons = action.left_out()
    first_reason = (
        case(*((condition, i) for i, (_, condition) in enumerate(reasons)), else_=WILL_CHANGE)
        if reasons
        else literal(WILL_CHANGE)
    )
    # Grouped in an outer query: PostgreSQL will not match a GROUP BY expression whose
    # parameters are bound separately from the SELECT's.
    per_row = (
        select(first_reason.label("reason"))
        .select_from(actions.id_column.table)
        .where(selection.condition)
        .subquery()
    )
    by_reason = dict(
        db.session.execute(select(per_row.c.reason, func.count()).group_by(per_row.c.reason)).all()
    )
    return Counts(
        selected=sum(by_reason.values()),
        will_change=by_reason.get(WILL_CHANGE, 0),
        left_out=tuple(
            (reason, by_reason[i]) for i, (reason, _) in enumerate(reasons) if by_reason.get(i)
        ),
    )


def confirm_step(bulk, list_endpoint, problem=None):
    """The confirm step: how many will change, and per reason how many will not.
    `problem`: why the last confirm did not run (a count typed wrong)."""
    return render_page_or_fragment(
        "bulk_confirm.html",
        bulk.action.confirm_template,
        bulk=bulk,
        counts=count(bulk.actions, bulk.action, bulk.selection),
        back=_list_url(bulk, list_endpoint),
        problem=problem,
    )


def typed_number(text):
    """The number in what was typed ("16,878", "16 878", "16878"), or None."""
    digits = "".join(ch for ch in (text or "") if ch not in " ,._\u00a0\u202f")
    return int(digits) if digits.isdigit() else None


def check_typed_count(bulk, counts):
    """Refuse (CountNotTyped) a big destructive action unless the number typed is exactly
    how many rows it will change now."""
    if not bulk.action.needs_typed_count(counts.will_change):
        return
    typed = typed_number(bulk.typed_count)
    things = bulk.actions.things(counts.will_change)
    if typed is None:
        raise CountNotTyped(
            f"Nothing was changed: type {counts.will_change:,} (how many will change) "
            f"to {bulk.action.label.lower()} {things}."
        )
    if typed != counts.will_change:
        raise CountNotTyped(
            f"Nothing was changed: you typed {typed:,}, but {things} will change. "
            f"Type {counts.will_change:,} to go ahead."
        )


def run(bulk, actor):
    """Run the action on the selection (flush only: the caller commits) and say what
    happened: how many changed and, for the rest, why not. A big destructive action runs
    only with its count typed (`check_typed_count`)."""
    before = count(bulk.actions, bulk.action, bulk.selection)
    check_typed_count(bulk, before)
    changed = bulk.action.run(bulk.selection.condition, actor, bulk.selection.description)
    return done_message(bulk, before, changed)


def done_message(bulk, before, changed):
    message = bulk.action.done.format(things=bulk.actions.things(changed))
    if before.staying:
        if len(before.left_out) == 1:
            why = before.left_out[0][0]
        else:
            why = ", ".join(f"{n:,} {reason}" for reason, n in before.left_out)
        message += f" {before.staying:,} left as they were: {why}."
    if changed < before.will_change:
        moved = before.will_change - changed
        message += (
            f" {moved:,} changed in the meantime (someone else acted on them) "
            "and were left as they were."
        )
    return message


def nothing_selected(bulk, list_endpoint):
    message = f"Select at least one {bulk.actions.one} first."
    if is_htmx():
        return toast(current_app.response_class("", 204), message, "warning")
    flash(message, "warning")
    return redirect(url_for(list_endpoint))


def done(bulk, message, list_endpoint, level="success"):
    """After the commit: the message in the list's bulk slot (and the list reloads), or
    flashed on the list the form came from."""
    if is_htmx():
        response = current_app.response_class(
            render_template("components/_bulk_done.html", message=message, level=level)
        )
        if level == "success":
            response.headers["HX-Trigger"] = bulk.actions.changed_event
        return response
    flash(message, level)
    return redirect(_list_url(bulk, list_endpoint))


def _list_url(bulk, list_endpoint):
    """The list the bulk form came from, with its filter."""
    return url_for(list_endpoint, **dict(parse_qsl(bulk.selection.filter_query)))
