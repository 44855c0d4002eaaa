from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from dashboard.forms import FilterForm, options
from dashboard.outbox.models import OUTBOX_STATUSES
from dashboard.outbox.queries import KINDS, MIN_RECIPIENT_FRAGMENT, is_whole_address


def _printable(_form, field):
    if field.data and any(ord(c) < 32 for c in field.data):
        raise ValidationError("Type letters, digits and punctuation only.")


class OutboxFilterForm(FilterForm):
    status = SelectField(
        "Status",
        choices=options([("", "Any status"), *((s, s.capitalize()) for s in OUTBOX_STATUSES)]),
        default="",
    )
    kind = SelectField("Kind", choices=options([("", "Any kind"), *KINDS.items()]), default="")
    to = StringField(
        "Recipient",
        validators=[Optional(), Length(max=254), _printable],
        description="A whole address, or part of one",
        render_kw={"placeholder": "ada@example.com", "autocomplete": "off", "type": "search"},
    )
    cart = StringField(
        "Cart",
        validators=[Optional(), Length(max=64), _printable],
        description="The storefront's cart id, or the cart's number",
        render_kw={"placeholder": "cart id or number", "autocomplete": "off"},
    )
    cursor = HiddenField()

    def validate_to(self, field):
        text = (field.data or "").strip()
        if field.errors or not text or is_whole_address(text):
            return
        if len(text) < MIN_RECIPIENT_FRAGMENT:
            raise ValidationError(
                f"Type at least {MIN_RECIPIENT_FRAGMENT} characters of the address."
            )
