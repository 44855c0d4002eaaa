from flask_wtf import FlaskForm
from wtforms import BooleanField


class SendNextForm(FlaskForm):
    """The confirm step of "send the next step now" on one cart."""

    send_anyway = BooleanField("Send anyway, although the last email went out recently")
