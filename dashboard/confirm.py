"""The confirm step of a single change that is hard to take back (cancel a cart, revoke a
key, deactivate an account): a GET page that says what will happen, posting to the
change's own URL."""

from dataclasses import dataclass

from flask import render_template


@dataclass(frozen=True)
class Confirm:
    title: str
    lines: tuple  # what happens, in sentences
    action: str  # where the confirming POST goes
    button: str
    back: str
    back_label: str = "Keep it as it is"


def confirm_page(**fields):
    return render_template("confirm.html", confirm=Confirm(**fields))
