from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from dashboard.audit.actions import ACTION_LABELS
from dashboard.audit.queries import RECORD_KINDS
from dashboard.forms import FilterForm, options
from dashboard.listing import MAX_ID


class AuditFilterForm(FilterForm):
    actor = StringField(
        "Who",
        validators=[Optional(), Length(max=254)],
        description="Staff email, API key name or job name",
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
    record_id = IntegerField(
        "Record id",
        validators=[Optional(), NumberRange(min=1, max=MAX_ID, message="Not a record id.")],
    )
    cursor = HiddenField()
