"""Form parts shared by the list pages."""

from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice
from wtforms.validators import DataRequired, ValidationError

from dashboard import money

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def options(pairs):
    """SelectField choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def sensible_date(_form, field):
    """Dates from 2000 to 2999: anything else is a typo, and would overflow the time zone maths."""
    if field.data and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError("Choose a date between 2000 and 2999.")


def amount_range():
    """An amount in the shop's currency, up to money.MAX_MINOR_UNITS, in the currency's places."""

    def check(_form, field):
        problem = money.shop_amount_problem(field.data)
        if problem:
            raise ValidationError(problem)

    return check


class FilterForm(FlaskForm):
    """A GET form whose state is the query string: no CSRF, no prefix."""

    class Meta:
        csrf = False

    def valid_data(self):
        """Field values that passed validation; a field with errors is left out."""
        self.validate()
        return {name: field.data for name, field in self._fields.items() if not field.errors}


class BulkForm(FlaskForm):
    """A bulk action's POST (CSRF on): which action, and whether it is confirmed. The
    selection is the ticked `ids`, or `all_matching` the list's `filter_query`."""

    action = HiddenField(validators=[DataRequired()])
    all_matching = BooleanField()
    filter_query = HiddenField()
    confirm = BooleanField()
