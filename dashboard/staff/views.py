from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from dashboard.audit.service import Actor
from dashboard.auth import passwords, service
from dashboard.auth.forms import EmptyForm
from dashboard.auth.models import Staff
from dashboard.auth.permissions import role_required
from dashboard.confirm import confirm_page
from dashboard.extensions import db
from dashboard.staff.forms import AddStaffForm, RoleForm, TemporaryPasswordForm
from dashboard.transaction import committed

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _render_list(add_form, status=200):
    staff = db.session.scalars(select(Staff).order_by(Staff.email)).all()
    return render_template(
        "staff/list.html",
        staff=staff,
        add_form=add_form,
        role_form=RoleForm(),
        empty_form=EmptyForm(),
    ), status


@bp.get("/")
@role_required("manager")
def list_staff():
    return _render_list(AddStaffForm())


@bp.post("/")
@role_required("manager")
def add_staff():
    form = AddStaffForm()
    if form.validate_on_submit():
        with committed(show=False) as change:
            staff = service.create_staff(
                form.email.data, form.role.data, form.password.data, Actor.staff(current_user)
            )
        if change.ok:
            flash(f"Added {staff.email} as {staff.role}.", "success")
            return redirect(url_for(".list_staff"))
        form.email.errors.append(change.message)
    return _render_list(form, 422)


def _staff_or_404(staff_id):
    return db.session.get(Staff, staff_id) or abort(404)


@bp.post("/<int:staff_id>/role")
@role_required("manager")
def change_role(staff_id):
    staff = _staff_or_404(staff_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the listed roles.", "danger")
        return redirect(url_for(".list_staff"))
    with committed() as change:
        service.change_role(staff, form.role.data, Actor.staff(current_user))
    if change.ok:
        flash(f"{staff.email} is now {staff.role}.", "success")
    return redirect(url_for(".list_staff"))


@bp.get("/<int:staff_id>/deactivate")
@role_required("manager")
def confirm_deactivate(staff_id):
    staff = _staff_or_404(staff_id)
    return confirm_page(
        title=f"Deactivate {staff.email}?",
        lines=(
            f"{staff.email} ({staff.role}) is signed out at their next request and cannot "
            "sign in again until a manager reactivates the account.",
            "Their past changes stay in the audit log under their name.",
        ),
        action=url_for(".set_active", staff_id=staff.id, change="deactivate"),
        button="Deactivate the account",
        back=url_for(".list_staff"),
        back_label="Keep the account active",
    )


@bp.post("/<int:staff_id>/<any(deactivate, activate):change>")
@role_required("manager")
def set_active(staff_id, change):
    staff = _staff_or_404(staff_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed() as result:
        service.set_active(staff, change == "activate", Actor.staff(current_user))
    if result.ok:
        flash(f"{staff.email} is {'active' if staff.is_active else 'deactivated'}.", "success")
    return redirect(url_for(".list_staff"))


@bp.route("/<int:staff_id>/password", methods=["GET", "POST"])
@role_required("manager")
def temporary_password(staff_id):
    staff = _staff_or_404(staff_id)
    if staff.id == current_user.id:
        flash("Change your own password here, with your current one.", "info")
        return redirect(url_for("auth.change_password"))
    form = TemporaryPasswordForm(account_email=staff.email)
    status = 200
    if form.validate_on_submit():
        with committed(show=False) as change:
            passwords.set_temporary_password(
                staff, form.new_password.data, Actor.staff(current_user)
            )
        if change.ok:
            flash(
                f"{staff.email} has a temporary password now and is signed out everywhere. "
                "At their next sign-in they choose their own.",
                "success",
            )
            return redirect(url_for(".list_staff"))
        form.new_password.errors.append(change.message)
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("staff/password.html", staff=staff, form=form), status
