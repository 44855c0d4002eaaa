"""The returns desk: the queue, one request's page, its moves, the export and bulk moves."""

from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from dashboard import bulk as bulk_steps
from dashboard.audit.service import Actor
from dashboard.auth.permissions import role_required
from dashboard.csv_export import stream_csv
from dashboard.forms import AmountField
from dashboard.htmx import render_page_or_fragment
from dashboard.money import csv_amount, to_minor
from dashboard.returns import queries, service
from dashboard.returns.bulk import NEEDS, RETURN_BULK, bulk_inputs
from dashboard.returns.forms import (
    ApproveForm,
    CancelForm,
    CompleteForm,
    NewRequestForm,
    NoteForm,
    ReceiveForm,
    RejectForm,
    ReturnFilterForm,
    line_quantities,
)
from dashboard.returns.models import REASON_LABELS, REFUND_METHODS
from dashboard.returns.rules import OVERRIDABLE, RULES, DraftLine, ReturnDraft, decision_due_at
from dashboard.timeutil import to_shop_time, utcnow
from dashboard.transaction import committed

bp = Blueprint("returns", __name__, url_prefix="/returns")


def _get_request(request_id):
    return queries.get_request(request_id) or abort(404)


def _back(rma, anchor=""):
    return redirect(url_for(".detail", request_id=rma.id) + anchor)


def _form_errors(form):
    """What is wrong with a posted form, in a sentence or two. An amount's messages are
    written to stand beside its input ("Must be from 0 to …"): here they are led by its
    label."""
    if "csrf_token" in form.errors:
        return "The form expired: it is shown again with what you typed. Send it again."
    errors = []
    for name, messages in form.errors.items():
        field = form._fields.get(name)  # None for the form's own errors
        lead = f"{field.label.text}: " if isinstance(field, AmountField) else ""
        errors += [lead + error for error in messages]
    return " ".join(errors) or "The form could not be read; reload the page."


def _refused(rma, move, form, message=None):
    """The request's page again (422) after a refused `move`, with `message` (or what is
    wrong with the form) flashed and what was typed kept."""
    flash(message or _form_errors(form), "danger")
    return _detail_page(rma, (move, form))


@bp.get("/")
@role_required("viewer")
def list_requests():
    form = ReturnFilterForm(request.args)
    listing = queries.list_page(form, current_app.config["PAGE_SIZE"])
    return render_page_or_fragment(
        "returns/list.html",
        "returns/_table.html",
        listing=listing,
        result=listing.result,
        bulk=RETURN_BULK,
        reason_labels=REASON_LABELS,
    )


def _posted_lines(lines):
    """The new request's draft lines from quantity-<n> / reason-<n>, with each one's index
    on the form; ValueError with a sentence for a quantity that is not a whole number."""
    drafted = []
    for line in lines:
        raw = (request.form.get(f"quantity-{line.index}") or "").strip()
        if raw in ("", "0"):
            continue
        try:
            quantity = int(raw)
        except ValueError:
            raise ValueError(f"“{line.name}”: the quantity must be a whole number.") from None
        if quantity < 0:
            raise ValueError(f"“{line.name}”: the quantity must be 0 or more.")
        reason = request.form.get(f"reason-{line.index}") or None
        drafted.append((line.index, DraftLine(line.sku, quantity, reason)))
    return drafted


def _posted_overrides(drafted):
    """{index of the draft's line: rule codes} the manager ticked override-<n> for."""
    chosen = {}
    for draft_index, (form_index, _) in enumerate(drafted):
        codes = request.form.getlist(f"override-{form_index}")
        codes = {code for value in codes for code in value.split(",") if code in OVERRIDABLE}
        if codes:
            chosen[draft_index] = frozenset(codes)
    return chosen


@bp.route("/new", methods=["GET", "POST"])
@role_required("agent")
def new_request():
    """Record a request for a customer (on the phone, by email) about one of their orders.
    The rules apply as they do to the storefront; a manager may override the ones that may
    be overridden, line by line, with a note."""
    order = service.find_order((request.values.get("order") or "").strip()) or abort(404)
    lines = queries.new_request_lines(order)
    form = NewRequestForm()
    refused = {}  # form line index -> [Refusal]
    values = {}
    if request.method == "POST" and form.validate_on_submit() and order.email:
        values = request.form
        try:
            drafted = _posted_lines(lines)
        except ValueError as error:
            drafted = None
            flash(str(error), "danger")
        if drafted is not None and not drafted:
            flash("Enter how many of at least one item the customer returns.", "danger")
        elif drafted:
            draft = ReturnDraft(
                order_number=order.number,
                email=order.email,
                type=form.type.data,
                reason=form.reason.data,
                comment=form.comment.data,
                items=[line for _, line in drafted],
            )
            chosen = _posted_overrides(drafted)
            override = (
                service.Override(current_user, chosen, form.override_note.data) if chosen else None
            )
            with committed(show=False) as change:
                rma, _ = service.submit(draft, Actor.staff(current_user), override=override)
            if change.ok:
                flash(
                    f"{rma.number} is recorded for order {order.number}; the customer is told "
                    "by email.",
                    "success",
                )
                return redirect(url_for(".detail", request_id=rma.id))
            if isinstance(change.refused, service.NotEligible):
                for refusal in change.refused.refusals:
                    form_index = drafted[refusal.line][0] if refusal.line is not None else None
                    refused.setdefault(form_index, []).append(refusal)
                flash("The rules refuse some items; see each item below.", "danger")
            else:
                flash(change.message, "danger")
    elif request.method == "POST":
        if order.email:
            flash(_form_errors(form), "danger")
        values = request.form
    return render_template(
        "returns/new.html",
        order=order,
        lines=lines,
        form=form,
        refused=refused,
        values=values,
        rules=RULES,
        reason_labels=REASON_LABELS,
        can_override=current_user.has_role("manager"),
    )


# A request's page holds a form per move; after a refused post the posted one is shown
# again with what was typed, the others empty.
DETAIL_FORMS = {
    "approve": ApproveForm,
    "reject": RejectForm,
    "receive": ReceiveForm,
    "complete": CompleteForm,
    "cancel": CancelForm,
    "note": NoteForm,
}


def _detail_page(rma, refused=None):
    """The request's page; with `refused` (move, form) the page of a refused post, 422,
    whose form keeps what was typed (the lines' quantities too) beside the flashed reason."""
    forms = {f"{move}_form": form(formdata=None) for move, form in DETAIL_FORMS.items()}
    if refused is not None:
        move, form = refused
        forms[f"{move}_form"] = form
    page = render_template(
        "returns/detail.html",
        rma=rma,
        lines=queries.lines_with_eligibility(rma),
        refund=queries.refund_breakdown(rma),
        timeline=queries.timeline(rma),
        others=queries.customer_requests(rma),
        refund_methods=REFUND_METHODS,
        now=utcnow(),
        decision_due=decision_due_at(rma),
        typed=request.form if refused is not None else {},
        **forms,
    )
    return page, 200 if refused is None else 422


@bp.get("/<int:request_id>")
@role_required("viewer")
def detail(request_id):
    return _detail_page(_get_request(request_id))


@bp.post("/<int:request_id>/approve")
@role_required("agent")
def approve(request_id):
    rma = _get_request(request_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _refused(rma, "approve", form)
    try:
        quantities = line_quantities(request.form, "approved", rma.lines)
    except ValueError as error:
        return _refused(rma, "approve", form, str(error))
    with committed("warning") as change:
        service.approve(rma, Actor.staff(current_user), quantities, form.note.data)
    if not change.ok:
        return _detail_page(rma, ("approve", form))
    flash(f"{rma.number} is approved; the customer is told by email.", "success")
    return _back(rma)


@bp.post("/<int:request_id>/reject")
@role_required("agent")
def reject(request_id):
    rma = _get_request(request_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _refused(rma, "reject", form)
    with committed("warning") as change:
        service.reject(rma, Actor.staff(current_user), form.reason.data, form.note.data)
    if not change.ok:
        return _detail_page(rma, ("reject", form))
    flash(f"{rma.number} is rejected; the customer reads your note by email.", "success")
    return _back(rma)


@bp.post("/<int:request_id>/receive")
@role_required("agent")
def receive(request_id):
    rma = _get_request(request_id)
    form = ReceiveForm()
    if not form.validate_on_submit():
        return _refused(rma, "receive", form)
    try:
        received = line_quantities(request.form, "received", rma.lines)
        damaged = line_quantities(request.form, "damaged", rma.lines)
    except ValueError as error:
        return _refused(rma, "receive", form, str(error))
    quantities = {
        line.id: (
            received.get(line.id, line.quantity_approved or 0),
            damaged.get(line.id, 0),
        )
        for line in rma.lines
        if line.id in received or line.id in damaged
    }
    with committed("warning") as change:
        service.receive(rma, Actor.staff(current_user), quantities, form.note.data)
    if not change.ok:
        return _detail_page(rma, ("receive", form))
    flash(f"The parcel for {rma.number} is marked received.", "success")
    return _back(rma)


@bp.post("/<int:request_id>/complete")
@role_required("agent")
def complete(request_id):
    rma = _get_request(request_id)
    form = CompleteForm()
    if not form.validate_on_submit():
        return _refused(rma, "complete", form)
    amount = None
    if form.amount.data is not None:
        try:
            amount = to_minor(form.amount.data, rma.currency)
        except (ValueError, TypeError) as error:
            return _refused(rma, "complete", form, f"The amount cannot be used: {error}.")
    with committed("warning") as change:
        service.complete(
            rma,
            Actor.staff(current_user),
            method=form.method.data,
            reference=form.reference.data,
            amount=amount,
            note=form.note.data,
        )
    if not change.ok:
        return _detail_page(rma, ("complete", form))
    flash(f"{rma.number} is completed; the customer is told by email.", "success")
    return _back(rma)


@bp.post("/<int:request_id>/cancel")
@role_required("agent")
def cancel(request_id):
    rma = _get_request(request_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _refused(rma, "cancel", form)
    with committed("warning") as change:
        service.cancel(rma, Actor.staff(current_user), form.note.data, by_customer=False)
    if not change.ok:
        return _detail_page(rma, ("cancel", form))
    flash(f"{rma.number} is cancelled; the customer is told by email.", "success")
    return _back(rma)


@bp.post("/<int:request_id>/notes")
@role_required("agent")
def add_note(request_id):
    rma = _get_request(request_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _refused(rma, "note", form)
    with committed() as change:
        service.add_note(rma, form.body.data, Actor.staff(current_user), current_user)
    if not change.ok:
        return _detail_page(rma, ("note", form))
    flash("Note added.", "success")
    return _back(rma, "#timeline")


def _when(value):
    return to_shop_time(value).isoformat(timespec="seconds") if value else ""


REQUEST_HEADER = (
    "number",
    "order_number",
    "email",
    "type",
    "status",
    "reason",
    "comment",
    "units_requested",
    "currency",
    "value_requested",
    "submitted_at",
    "decided_at",
    "decided_by",
    "rejection_reason",
    "customer_note",
    "ship_by",
    "received_at",
    "completed_at",
    "refund_amount",
    "refund_method",
    "refund_reference",
)
LINE_HEADER = (
    "number",
    "order_number",
    "email",
    "type",
    "status",
    "sku",
    "name",
    "reason",
    "comment",
    "requested",
    "approved",
    "received",
    "damaged",
)


def _request_row(r):
    return (
        r.number,
        r.order.number,
        r.email,
        r.type,
        r.status,
        r.reason,
        r.comment,
        r.units_requested,
        r.currency,
        csv_amount(r.value_requested, r.currency),
        _when(r.submitted_at),
        _when(r.decided_at),
        r.decided_by,
        r.rejection_reason,
        r.customer_note,
        _when(r.ship_by_at),
        _when(r.received_at),
        _when(r.completed_at),
        csv_amount(r.refund_amount, r.currency),
        r.refund_method,
        r.refund_reference,
    )


def _line_rows(r):
    for line in r.lines:
        yield (
            r.number,
            r.order.number,
            r.email,
            r.type,
            r.status,
            line.sku,
            line.name,
            line.reason,
            line.comment,
            line.quantity_requested,
            line.quantity_approved,
            line.quantity_received,
            line.quantity_damaged,
        )


@bp.get("/export.csv")
@role_required("viewer")
def export_csv():
    filters = ReturnFilterForm(request.args).valid_data()
    by_line = request.args.get("rows") == "lines"

    def rows():
        for r in queries.export_rows(filters):
            if by_line:
                yield from _line_rows(r)
            else:
                yield _request_row(r)

    if by_line:
        return stream_csv("return-lines.csv", LINE_HEADER, rows())
    return stream_csv("return-requests.csv", REQUEST_HEADER, rows())


def _bulk_confirm(asked, inputs, problems=()):
    """The confirm step, with what the customers will read (and why, for a reject)."""
    return render_page_or_fragment(
        "returns/bulk_confirm.html",
        "returns/_bulk_confirm.html",
        bulk=asked,
        counts=bulk_steps.count(asked.actions, asked.action, asked.selection),
        back=url_for(".list_requests", **dict(parse_qsl(asked.selection.filter_query))),
        inputs=inputs,
        needs=NEEDS[asked.action.name],
        problems=problems,
    )


def _missing_inputs(action, inputs):
    problems = []
    if action.name == "reject" and not inputs.reason.data:
        problems.append("Choose why the requests are rejected.")
    if action.name == "reject" and not (inputs.note.data or "").strip():
        problems.append("Write a note for the customers: it is all they read about the rejection.")
    return problems


@bp.post("/bulk")
@role_required("viewer")  # each action names the role it needs: bulk.read_request checks it
def bulk():
    asked = bulk_steps.read_request(RETURN_BULK)
    if asked.nothing_selected:
        return bulk_steps.nothing_selected(asked, ".list_requests")
    inputs = bulk_inputs()
    if not asked.confirmed:
        return _bulk_confirm(asked, inputs)
    problems = _missing_inputs(asked.action, inputs)
    if problems or not inputs.validate():
        problems += [e for errors in inputs.errors.values() for e in errors]
        return _bulk_confirm(asked, inputs, problems)
    with committed(show=False) as change:
        message = bulk_steps.run(asked, Actor.staff(current_user))
    if not change.ok:
        return bulk_steps.done(asked, change.message, ".list_requests", "danger")
    return bulk_steps.done(asked, message, ".list_requests")
