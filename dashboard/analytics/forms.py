from datetime import timedelta

from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from dashboard.analytics.reports import MAX_DAYS, Range, today
from dashboard.forms import FilterForm, options, sensible_date
from dashboard.incomplete_orders.models import STAGE_LABELS

DEFAULT_DAYS = 30


class AnalyticsFilterForm(FilterForm):
    """The page's state in the query string: from, to, compare, stage."""

    first = DateField("From", name="from", validators=[Optional(), sensible_date])
    last = DateField("To", name="to", validators=[Optional(), sensible_date])
    compare = SelectField(
        "Compare with",
        choices=options([("previous", "The period before"), ("none", "Nothing")]),
        default="previous",
    )
    stage = SelectField(
        "Stage reached",
        choices=options([("", "Every stage"), *STAGE_LABELS.items()]),
        default="",
    )

    def validate_last(self, field):
        if self.first.data and field.data:
            if field.data < self.first.data:
                raise ValidationError("The end of the range is before its start.")
            if (field.data - self.first.data).days >= MAX_DAYS:
                raise ValidationError(f"Choose at most {MAX_DAYS} days.")

    def range(self):
        """The valid range asked for; the last 30 days where a date is missing or wrong."""
        data = self.valid_data()
        last = data.get("last") if "last" in data else None
        first = data.get("first") if "last" in data else None
        last = last or today()
        first = first or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last or (last - first).days >= MAX_DAYS:
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        return Range(first, last, data.get("compare") or "previous", data.get("stage") or None)
