from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from dashboard.audit.actions import ACTION_LABELS
from dashboard.audit.queries import RECORD_KINDS
from dashboard.forms import FilterForm, RecordIdField, options, sensible_date
from dashboard.listing import MAX_ID


def _printable(_form, field):
    if field.data and any(ord(c) < 32 for c in field.data):
        raise ValidationError("Type letters, digits and punctuation only.")


class AuditFilterForm(FilterForm):
    actor = StringField(
        "Who",
        validators=[Optional(), Length(max=254), _printable],
        description="Staff email, API key name or job name, or part of one",
        render_kw={"type": "search", "autocomplete": "off"},
    )
    action = SelectField(
        "What", choices=options([("", "Any action"), *ACTION_LABELS.items()]), default=""
    )
    record_type = SelectField(
        "Record type",
        choices=options(
            [("", "Any record"), *((kind, k.label) for kind, k in RECORD_KINDS.items())]
        ),
        default="",
    )
    record_id = RecordIdField(
        "Record id",
        validators=[Optional(), NumberRange(min=1, max=MAX_ID, message="Not a record id.")],
    )
    date_from = DateField("From", validators=[Optional(), sensible_date])
    date_to = DateField("To", validators=[Optional(), sensible_date])
    cursor = HiddenField()

    def validate_date_to(self, field):
        start = self.date_from.data if not self.date_from.errors else None
        if field.data and start and field.data < start:
            raise ValidationError("The last day is before the first. Swap them.")
