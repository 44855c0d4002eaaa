from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from dashboard.auth.rules import MIN_PASSWORD_LENGTH, password_problem


class LoginForm(FlaskForm):
    # Told to password managers, which then fill in the saved account.
    email = EmailField(
        "Email",
        validators=[DataRequired(), Email(), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this computer")
    next = HiddenField()


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST-only buttons."""


class NewPasswordForm(FlaskForm):
    """A new password, typed twice, checked against the password rules for `account_email`."""

    new_password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a new password.")],
        description=f"At least {MIN_PASSWORD_LENGTH} characters; not your email address or "
        "a common password. A few unrelated words make a good one.",
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[
            DataRequired(message="Type the new password a second time."),
            EqualTo("new_password", message="The two new passwords differ. Type them again."),
        ],
    )

    def __init__(self, *args, account_email=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_email = account_email

    def validate_new_password(self, field):
        problem = password_problem(field.data, self.account_email)
        if problem:
            raise ValidationError(problem)


class ChangePasswordForm(NewPasswordForm):
    """One's own password: the current one first."""

    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(message="Type your current password."), Length(max=200)],
    )
