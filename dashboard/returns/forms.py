"""The desk's forms: the list's filters, and what an agent fills in to move a request.

Per-line quantities come as `<name>-<line id>` fields (approved-12, received-12, damaged-12),
one per line of the request; `line_quantities` reads them.
"""

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from dashboard.forms import AmountField, FilterForm, amount_range, options, sensible_date
from dashboard.returns.models import (
    REASON_LABELS,
    REFUND_METHODS,
    REJECTION_REASONS,
    STATUS_LABELS,
    TYPE_LABELS,
)
from dashboard.returns.queries import ANY_STATUS, MIN_SEARCH_LENGTH, OVERDUE_LABELS, RETURN_SORTS
from dashboard.returns.service import MAX_NOTE, MAX_REFERENCE


def _search_length(_form, field):
    if field.data and len(field.data.strip()) < MIN_SEARCH_LENGTH:
        raise ValidationError(f"Type at least {MIN_SEARCH_LENGTH} characters to search.")


class ReturnFilterForm(FilterForm):
    q = StringField("Search", validators=[Optional(), Length(max=100), _search_length])
    # The desk's default view is the queue: pending, oldest first. "Any status" has a value
    # of its own, so the list's URL (and the export and "all matching") can say it.
    status = SelectField(
        "Status",
        choices=options([(ANY_STATUS, "Any status"), *STATUS_LABELS.items()]),
        default="pending",
    )
    type = SelectField(
        "Type", choices=options([("", "Any type"), *TYPE_LABELS.items()]), default=""
    )
    reason = SelectField(
        "Reason", choices=options([("", "Any reason"), *REASON_LABELS.items()]), default=""
    )
    overdue = SelectField(
        "Overdue", choices=options([("", "Overdue or not"), *OVERDUE_LABELS.items()]), default=""
    )
    submitted_from = DateField("Submitted from", validators=[Optional(), sensible_date])
    submitted_to = DateField("Submitted to", validators=[Optional(), sensible_date])
    sort = SelectField(
        "Sort",
        choices=options(list(RETURN_SORTS.choices())),
        default=RETURN_SORTS.default,
    )
    cursor = HiddenField()

    def validate_submitted_to(self, field):
        if field.data and self.submitted_from.data and field.data < self.submitted_from.data:
            raise ValidationError("Must not be before “Submitted from”.")


def _note(label="Note for the customer", required=None):
    validators = [DataRequired(message=required)] if required else [Optional()]
    return TextAreaField(label, validators=[*validators, Length(max=MAX_NOTE)])


class ApproveForm(FlaskForm):
    note = _note()


class RejectForm(FlaskForm):
    reason = SelectField(
        "Why (the customer never sees this)",
        choices=options([("", "Choose a reason…"), *REJECTION_REASONS.items()]),
        validators=[DataRequired(message="Choose why the request is rejected from the list.")],
    )
    note = _note(required="Write a note for the customer: it is all they read about the rejection.")


class ReceiveForm(FlaskForm):
    note = _note("What was missing or damaged (the customer reads it)")


class CompleteForm(FlaskForm):
    method = SelectField(
        "How it was refunded",
        choices=options([("", "Choose…"), *REFUND_METHODS.items()]),
        validators=[DataRequired(message="Choose how the refund was made.")],
    )
    reference = StringField(
        "Payment system's reference", validators=[Optional(), Length(max=MAX_REFERENCE)]
    )
    # Empty: the computed refund. Another amount needs a note (checked by the service).
    amount = AmountField("Another amount", places=None, validators=[Optional(), amount_range()])
    note = _note("Why the amount differs (the customer reads it)")


class CancelForm(FlaskForm):
    note = _note()


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Internal note",
        validators=[DataRequired(message="A note cannot be empty."), Length(max=MAX_NOTE)],
    )


class NewRequestForm(FlaskForm):
    """A request staff record for a customer (on the phone, by email) about one order; the
    items' quantities come as quantity-<n> fields, one per item of the order, and a
    manager's overrides as override-<n> (see `new_request_lines`)."""

    type = SelectField(
        "Type",
        choices=options(list(TYPE_LABELS.items())),
        validators=[DataRequired(message="Choose the type.")],
    )
    reason = SelectField(
        "Reason",
        choices=options([("", "Choose…"), *REASON_LABELS.items()]),
        validators=[DataRequired(message="Choose the customer's reason.")],
    )
    comment = _note("What the customer says")
    override_note = _note("Why the rules are overridden (required to override; audited)")


class BulkNoteForm(FlaskForm):
    """What a bulk approve or reject tells every customer, and (reject) why."""

    class Meta:
        csrf = False  # the bulk form around it carries the token

    note = _note()
    reason = SelectField(
        "Why (the customer never sees this)",
        choices=options([("", "Choose a reason…"), *REJECTION_REASONS.items()]),
        default="",
    )


def line_quantities(formdata, name, lines):
    """{line id: whole number} from the `<name>-<line id>` fields; a field left empty is
    left out (the service then takes its default). ValueError with a sentence otherwise."""
    quantities = {}
    for line in lines:
        raw = (formdata.get(f"{name}-{line.id}") or "").strip()
        if raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(
                f"“{line.name}”: the {name} quantity must be a whole number, 0 or more."
            ) from None
        quantities[line.id] = value
    return quantities
