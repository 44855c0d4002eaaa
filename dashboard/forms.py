"""Form parts shared by the list pages."""

from datetime import date

from flask import current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, HiddenField, IntegerField, SelectChoice
from wtforms.validators import DataRequired, ValidationError

from dashboard import money
from dashboard.api import is_api_request
from dashboard.htmx import is_htmx, toast
from dashboard.listing import MAX_ID

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


class AmountField(DecimalField):
    """A decimal typed by a person: Decimal also reads NaN, sNaN and Infinity, which are no
    amount and fail every comparison later (sNaN raises), so they are refused here; what is
    not a number at all is answered with an example of one."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:  # "12,50", "abc": DecimalField's "Not a valid decimal value."
            raise ValueError("Type an amount in figures, such as 12.50.") from None
        if self.data is not None and not self.data.is_finite():
            amount, self.data = self.data, None
            if amount.is_infinite():
                raise ValueError(money.shop_amount_problem(amount))
            raise ValueError("Type an amount in figures, such as 12.50.")


class RecordIdField(IntegerField):
    """A record's id: 1 to MAX_ID, what the database's id columns hold. (NumberRange alone
    fails on a 400-digit number: it converts it to a float.)"""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not 0 < self.data <= MAX_ID:
            self.data = None
            raise ValueError("Not a record id.")


NUL_MESSAGE = (
    "The address or a form field contains a NUL character (\\0), which no field can hold. "
    "Remove it and try again."
)


def _has_nul(values):
    # `next` is only ever checked as a place to go back to (an unsafe one goes to the
    # overview), never stored: a sign-in link with a NUL in it still signs in.
    return any(
        "\x00" in key or ("\x00" in value and key != "next")
        for key, value in values.items(multi=True)
    )


def refuse_nul_characters():
    """A before_request hook: a NUL in the path, the query string or a form field is refused
    with a 400 that says so. No database column can hold one (PostgreSQL refuses it), and no
    search or id contains one."""
    if is_api_request(request):
        return None  # the API refuses NUL itself, per field, in its documented errors
    if "\x00" not in request.path and not _has_nul(request.args):
        if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return None
        if not _has_nul(request.form):
            return None
    if is_htmx():
        return toast(current_app.response_class("", status=400), NUL_MESSAGE, "error")
    return render_template("error.html", code=400, message=NUL_MESSAGE), 400


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
