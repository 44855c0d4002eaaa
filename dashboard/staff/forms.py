from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, Email, Length

from dashboard.auth.models import ROLES
from dashboard.forms import options

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class AddStaffForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=options(ROLE_CHOICES), default="agent")
    password = PasswordField(
        "Initial password",
        validators=[DataRequired(), Length(min=8, message="At least 8 characters.")],
    )


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=options(ROLE_CHOICES))
