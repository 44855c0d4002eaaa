from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from dashboard.auth.forms import NewPasswordForm
from dashboard.auth.models import ROLES
from dashboard.auth.rules import MIN_PASSWORD_LENGTH, email_problem, password_problem
from dashboard.forms import options

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class AddStaffForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=options(ROLE_CHOICES), default="agent")
    password = PasswordField(
        "Initial password",
        validators=[DataRequired()],
        render_kw={"autocomplete": "new-password"},
        description=f"At least {MIN_PASSWORD_LENGTH} characters; not the email address or a "
        "common password.",
    )

    def validate_email(self, field):
        if field.errors:  # one message for one bad address
            return
        problem = email_problem(field.data)
        if problem:
            raise ValidationError(problem)

    def validate_password(self, field):
        problem = password_problem(field.data, self.email.data)
        if problem:
            raise ValidationError(problem)


class TemporaryPasswordForm(NewPasswordForm):
    """A password a manager gives a colleague, to be replaced at their next sign-in."""

    new_password = PasswordField(
        "Temporary password",
        validators=[DataRequired(message="Choose a temporary password.")],
        render_kw={"autocomplete": "new-password"},
        description=f"At least {MIN_PASSWORD_LENGTH} characters; not their email address or a "
        "common password. Tell it to them by phone or in person, not by email.",
    )
    confirm_password = PasswordField(
        "Temporary password again",
        validators=[
            DataRequired(message="Type the temporary password a second time."),
            EqualTo("new_password", message="The two passwords differ. Type them again."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=options(ROLE_CHOICES))
