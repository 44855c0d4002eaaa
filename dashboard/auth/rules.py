"""What makes an acceptable staff email and password: one rule for create-staff, the staff
page, the password pages and the sign-in form."""

from functools import cache
from pathlib import Path

import email_validator

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200  # what the sign-in form accepts
MAX_EMAIL_LENGTH = 254

_COMMON = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords():
    """The shipped list of passwords too common to allow, lower case."""
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def email_problem(email):
    """Why the sign-in form would refuse this address, or None. The same check as the form's
    (WTForms' Email(): syntax only, no DNS)."""
    email = (email or "").strip()
    if not email:
        return "Enter an email address."
    if len(email) > MAX_EMAIL_LENGTH:
        return f"An email address has at most {MAX_EMAIL_LENGTH} characters."
    try:
        email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return f"{email!r} is not an email address the sign-in form accepts."
    return None


def password_problem(password, email=None):
    """Why `password` may not be a staff password (for the account `email`), or None."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password may have at most {MAX_PASSWORD_LENGTH} characters."
    folded = password.strip().lower()
    if email:
        address = email.strip().lower()
        if folded in (address, address.partition("@")[0]):
            return "The password may not be the account's email address. Choose another."
    if folded in common_passwords() or len(set(folded)) <= 2:
        return "That password is one of the first that anyone guessing would try. Choose another."
    return None
