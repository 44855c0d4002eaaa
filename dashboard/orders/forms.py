from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from dashboard.forms import FilterForm, options, sensible_date
from dashboard.orders.models import SOURCE_LABELS
from dashboard.orders.queries import ORDER_SORTS


class OrderFilterForm(FilterForm):
    q = StringField(
        "Search",
        validators=[Optional(), Length(max=100)],
        description="Order number or email, from the start",
    )
    source = SelectField(
        "Source", choices=options([("", "Any source"), *SOURCE_LABELS.items()]), default=""
    )
    payment = SelectField(
        "Payment",
        choices=options([("", "Any payment"), ("received", "Received"), ("awaiting", "Awaiting")]),
        default="",
    )
    placed_from = DateField("Placed from", validators=[Optional(), sensible_date])
    placed_to = DateField("Placed to", validators=[Optional(), sensible_date])
    sort = SelectField(
        "Sort", choices=options(list(ORDER_SORTS.choices())), default=ORDER_SORTS.default
    )
    cursor = HiddenField()
