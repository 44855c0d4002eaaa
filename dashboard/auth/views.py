from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from dashboard.auth.forms import LoginForm
from dashboard.auth.service import authenticate
from dashboard.transaction import committed

bp = Blueprint("auth", __name__)


def safe_next(target):
    """`target` if it is a path on this site, else the overview (no open redirect)."""
    target = (target or "").replace("\\", "/")
    parts = urlsplit(target)
    on_site = target.startswith("/") and not target.startswith("//")
    if on_site and not parts.scheme and not parts.netloc:
        return target
    return url_for("core.overview")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")))
        form.next.data = request.args.get("next", "")
    error = None
    status = 200
    if form.validate_on_submit():
        with committed(show=False) as change:
            staff = authenticate(form.email.data, form.password.data, request.remote_addr)
        if not change.ok:  # throttled
            error, status = change.message, 429
        elif staff is not None:
            login_user(staff, remember=form.remember.data)
            return redirect(safe_next(form.next.data))
        else:
            error, status = "That email and password do not match an active account.", 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
