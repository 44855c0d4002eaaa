from wtforms import HiddenField, SelectField

from dashboard.forms import FilterForm, options
from dashboard.outbox.models import OUTBOX_STATUSES
from dashboard.outbox.queries import KINDS


class OutboxFilterForm(FilterForm):
    status = SelectField(
        "Status",
        choices=options([("", "Any status"), *((s, s.capitalize()) for s in OUTBOX_STATUSES)]),
        default="",
    )
    kind = SelectField("Kind", choices=options([("", "Any kind"), *KINDS.items()]), default="")
    cursor = HiddenField()
