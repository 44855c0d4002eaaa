from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from dashboard.forms import FilterForm
from dashboard.orders.models import SOURCE_LABELS
from dashboard.orders.queries import ORDER_SORTS


class OrderFilterForm(FilterForm):
    q = StringField(
        "Search",
        validators=[Optional(), Length(max=100)],
        description="Order number or email, from the start",
    )
    source = SelectField("Source", choices=[("", "Any source"), *SOURCE_LABELS.items()], default="")
    placed_from = DateField("Placed from", validators=[Optional()])
    placed_to = DateField("Placed to", validators=[Optional()])
    sort = SelectField("Sort", choices=list(ORDER_SORTS.choices()), default=ORDER_SORTS.default)
    cursor = HiddenField()
