from babel.numbers import get_currency_symbol
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from dashboard.analytics.definitions import HOLDOUT_GROUP_LABELS, OUTCOME_LABELS
from dashboard.forms import AmountField, FilterForm, amount_range, options, sensible_date
from dashboard.incomplete_orders.models import STAGE_LABELS, STATUS_LABELS
from dashboard.incomplete_orders.queries import INCOMPLETE_ORDER_SORTS
from dashboard.incomplete_orders.search import MIN_SEARCH_LENGTH
from dashboard.money import shop_currency, shop_locale


def _search_length(_form, field):
    if field.data and len(field.data.strip()) < MIN_SEARCH_LENGTH:
        raise ValidationError(f"Type at least {MIN_SEARCH_LENGTH} characters to search.")


class IncompleteOrderFilterForm(FilterForm):
    q = StringField("Search", validators=[Optional(), Length(max=100), _search_length])
    status = SelectField(
        "Status",
        choices=options([("", "Any status"), *STATUS_LABELS.items()]),
        validate_choice=True,
        default="",
    )
    stage = SelectField(
        "Stage", choices=options([("", "Any stage"), *STAGE_LABELS.items()]), default=""
    )
    customer = SelectField(
        "Customer",
        choices=options([("", "Any customer"), ("guest", "Guests"), ("registered", "Registered")]),
        default="",
    )
    has_email = SelectField(
        "Email",
        choices=options([("", "With or without"), ("yes", "Has email"), ("no", "No email")]),
        default="",
    )
    # Recovery state of the cart; each box narrows the list (ticked together: all of them).
    paused = BooleanField("Paused")
    unsubscribed = BooleanField("Unsubscribed")
    clicked = BooleanField("Clicked an email")
    has_notes = BooleanField("Has notes")
    # The analytics' words (dashboard.analytics.definitions): a count on /analytics/ opens
    # the list with these, and the list's count is the same number.
    abandoned_from = DateField("Abandoned from", validators=[Optional(), sensible_date])
    abandoned_to = DateField("Abandoned to", validators=[Optional(), sensible_date])
    outcome = SelectField(
        "Outcome",
        choices=options([("", "Any outcome"), *OUTCOME_LABELS.items()]),
        default="",
    )
    recoverable = BooleanField("Recoverable")
    emailed = BooleanField("Emailed")
    holdout = SelectField(
        "Holdout group",
        choices=options([("", "Any group"), *HOLDOUT_GROUP_LABELS.items()]),
        default="",
    )
    min_value = AmountField(
        "Value from",
        places=2,
        validators=[Optional(), amount_range()],
    )
    max_value = AmountField(
        "Value to",
        places=2,
        validators=[Optional(), amount_range()],
    )
    created_from = DateField("Created from", validators=[Optional(), sensible_date])
    created_to = DateField("Created to", validators=[Optional(), sensible_date])
    active_from = DateField("Active from", validators=[Optional(), sensible_date])
    active_to = DateField("Active to", validators=[Optional(), sensible_date])
    sort = SelectField(
        "Sort",
        choices=options([(key, label) for key, label in INCOMPLETE_ORDER_SORTS.choices()]),
        default=INCOMPLETE_ORDER_SORTS.default,
    )
    cursor = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Amounts are typed in the shop's currency: the labels say which.
        symbol = get_currency_symbol(shop_currency(), locale=shop_locale())
        self.min_value.label.text = f"Value from ({symbol})"
        self.max_value.label.text = f"Value to ({symbol})"

    def validate_max_value(self, field):
        if (
            field.data is not None
            and self.min_value.data is not None
            and field.data < self.min_value.data
        ):
            raise ValidationError("Must not be below “Value from”.")

    def validate_created_to(self, field):
        if field.data and self.created_from.data and field.data < self.created_from.data:
            raise ValidationError("Must not be before “Created from”.")

    def validate_abandoned_to(self, field):
        if field.data and self.abandoned_from.data and field.data < self.abandoned_from.data:
            raise ValidationError("Must not be before “Abandoned from”.")

    def validate_active_to(self, field):
        if field.data and self.active_from.data and field.data < self.active_from.data:
            raise ValidationError("Must not be before “Active from”.")


class ConvertForm(FlaskForm):
    payment = RadioField(
        "Has the payment been received?",
        choices=options(
            [("received", "Yes, payment received"), ("awaiting", "No, awaiting payment")]
        ),
        validators=[DataRequired(message="Say whether the payment has been received.")],
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Note", validators=[DataRequired(message="A note cannot be empty."), Length(max=5000)]
    )
