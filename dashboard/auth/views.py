from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from dashboard.audit.service import Actor
from dashboard.auth import devices, passwords
from dashboard.auth.forms import ChangePasswordForm, EmptyForm, LoginForm
from dashboard.auth.service import authenticate
from dashboard.htmx import is_htmx
from dashboard.transaction import committed

bp = Blueprint("auth", __name__)

# What a staff member who must choose a new password may still reach. The public pages
# (health, the customers' links, the API) never look at a staff session at all.
_OPEN_WHILE_PASSWORD_MUST_CHANGE = {
    "static",
    "auth.login",
    "auth.logout",
    "auth.change_password",
    "core.healthz",
    "recovery.restore",
    "recovery.unsubscribe",
    "recovery.resubscribe",
}


def safe_next(target):
    """`target` if it is a path on this site, else the overview (no open redirect)."""
    target = (target or "").replace("\\", "/")
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return url_for("core.overview")  # a header cannot hold CR or LF
    parts = urlsplit(target)
    on_site = target.startswith("/") and not target.startswith("//")
    if on_site and not parts.scheme and not parts.netloc:
        return target
    return url_for("core.overview")


@bp.before_app_request
def require_new_password():
    """A temporary password leads only to choosing a new one."""
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_WHILE_PASSWORD_MUST_CHANGE or endpoint.startswith("api."):
        return None
    if not (current_user.is_authenticated and current_user.password_must_change):
        return None
    target = url_for("auth.change_password", next=request.full_path.rstrip("?"))
    if is_htmx():
        return "", 403, {"HX-Redirect": target}
    return redirect(target)


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
            staff = authenticate(
                form.email.data,
                form.password.data,
                request.remote_addr,
                devices.trusted_device(form.email.data),
            )
        if not change.ok:  # throttled
            error, status = change.message, 429
        elif staff is not None:
            # A new CSRF secret for the signed-in session: a token from before is refused.
            session.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
            login_user(staff, remember=form.remember.data)
            if staff.password_must_change:
                flash("You signed in with a temporary password. Choose your own now.", "info")
                target = url_for("auth.change_password", next=safe_next(form.next.data))
            else:
                target = safe_next(form.next.data)
            return devices.remember_device(redirect(target), staff.email)
        else:
            error, status = "That email and password do not match an active account.", 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    with committed():
        # The cookie this browser held, and any copy of it, stops working now.
        passwords.end_session(current_user._get_current_object())
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _remembered():
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    staff = current_user._get_current_object()
    form = ChangePasswordForm(account_email=staff.email)
    status = 200
    if form.validate_on_submit():
        with committed(show=False) as change:
            passwords.change_own_password(
                staff, form.current_password.data, form.new_password.data, Actor.staff(staff)
            )
        if change.ok:
            # Every other session ended with the old password; this one goes on.
            login_user(staff, remember=_remembered())
            flash(
                "Your password is changed. Other browsers signed in as you are signed out.",
                "success",
            )
            return redirect(safe_next(request.args.get("next")))
        wrong = isinstance(change.refused, passwords.WrongCurrentPassword)
        (form.current_password if wrong else form.new_password).errors.append(change.message)
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template(
        "auth/password.html",
        form=form,
        must_change=staff.password_must_change,
        sign_out_form=EmptyForm(),
    ), status


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    if not EmptyForm().validate_on_submit():
        flash("This page was open too long. Try again.", "danger")
        return redirect(url_for(".change_password"))
    staff = current_user._get_current_object()
    with committed():
        passwords.sign_out_everywhere(staff, Actor.staff(staff))
    logout_user()
    flash("You are signed out in every browser. Sign in again here to go on.", "info")
    return redirect(url_for(".login"))
