from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user

from dashboard.api_keys import service
from dashboard.api_keys.forms import ApiKeyForm
from dashboard.api_keys.models import ApiKey
from dashboard.audit.service import Actor
from dashboard.auth.forms import EmptyForm
from dashboard.auth.permissions import role_required
from dashboard.confirm import confirm_page
from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.transaction import committed

bp = Blueprint("api_keys", __name__, url_prefix="/api-keys")


def _render(form, status=200, new_key=None, plaintext=None):
    response = render_template(
        "api_keys/list.html",
        keys=service.keys_for_listing(),
        form=form,
        empty_form=EmptyForm(),
        new_key=new_key,
        plaintext=plaintext,
    )
    # The page may show a secret once: never keep it in a cache.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/")
@role_required("manager")
def list_keys():
    # A key just created is shown on this one page view, then never again: a reload
    # shows the list, and creates nothing.
    created = session.pop("new_api_key", None)
    if created:
        key = db.session.get(ApiKey, created["id"])
        return _render(ApiKeyForm(), new_key=key, plaintext=created["plaintext"])
    return _render(ApiKeyForm())


@bp.post("/")
@role_required("manager")
def create_key():
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    with committed(show=False) as change:
        key, plaintext = service.issue_key(form.name.data, Actor.staff(current_user), current_user)
    if not change.ok:
        form.name.errors.append(change.message)
        return _render(form, 422)
    session["new_api_key"] = {"id": key.id, "plaintext": plaintext}
    return redirect(url_for(".list_keys"), 303)


@bp.get("/<int:key_id>/revoke")
@role_required("manager")
def confirm_revoke(key_id):
    key = db.session.get(ApiKey, key_id) or abort(404)
    if not key.is_active:
        flash(f"“{key.name}” is revoked already.", "info")
        return redirect(url_for(".list_keys"))
    used = shop_time(key.last_used_at) if key.last_used_at else "never"
    return confirm_page(
        title=f"Revoke the API key “{key.name}”?",
        lines=(
            f"Last used: {used}. Every request with this key is refused from the moment you "
            "revoke it; a revoked key cannot be restored.",
            "Give the storefront a new key first if it still needs one.",
        ),
        action=url_for(".revoke_key", key_id=key.id),
        button="Revoke the key",
        back=url_for(".list_keys"),
        back_label="Keep the key",
    )


@bp.post("/<int:key_id>/revoke")
@role_required("manager")
def revoke_key(key_id):
    key = db.session.get(ApiKey, key_id) or abort(404)
    with committed("warning") as change:
        service.revoke_key(key, Actor.staff(current_user), current_user)
    if change.ok:
        flash(f"Revoked “{key.name}”. Requests with it are refused from now on.", "success")
    return redirect(url_for(".list_keys"))
