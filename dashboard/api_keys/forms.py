from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class ApiKeyForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(message="Give the key a name."), Length(max=100)],
        description="Where the key is used, e.g. “Storefront production”.",
    )
