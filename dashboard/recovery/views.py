"""Staff's controls of one cart's recovery emails, and the customers' links from the
emails (restore a cart, unsubscribe; no login)."""

from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dashboard import database
from dashboard.audit.service import Actor
from dashboard.auth.forms import EmptyForm
from dashboard.auth.permissions import role_required
from dashboard.extensions import csrf, db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.recovery import service
from dashboard.recovery.models import Suppression
from dashboard.recovery.rules import RecoverySettings, why_not_now
from dashboard.recovery.tokens import read_restore_token, read_unsubscribe_token
from dashboard.transaction import committed

bp = Blueprint("recovery", __name__)


@bp.get("/r/<token>")
def restore(token):
    # A GET that writes (the click): on SQLite it must begin as a writer, or a commit by
    # anyone else between its read and its write fails it with "database is locked".
    database.write_intent.set(True)
    target = read_restore_token(token)
    if target is None:
        return render_template("recovery/link_invalid.html")
    with committed(show=False):
        order = service.record_click(*target)
    if order is None:
        return render_template("recovery/link_invalid.html")
    if order.status == "converted":
        return render_template("recovery/already_ordered.html", order=order)
    url = current_app.config["RECOVERY_RESTORE_URL"].format(cart_id=quote(order.cart_id, safe=""))
    return redirect(url, 303)


# The signed token is the proof; mail clients' one-click POSTs (RFC 8058) carry no cookie.
@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token):
    email = read_unsubscribe_token(token)
    if email is None:
        return render_template("recovery/link_invalid.html")
    if request.method == "POST":
        with committed(show=False):
            service.unsubscribe(email, Actor("customer", None, email))
        return render_template("recovery/unsubscribed.html", email=email)
    already = db.session.get(Suppression, email) is not None
    return render_template("recovery/unsubscribe.html", email=email, token=token, already=already)


@bp.post("/u/<token>/resubscribe")
@csrf.exempt
def resubscribe(token):
    email = read_unsubscribe_token(token)
    if email is None:
        return render_template("recovery/link_invalid.html")
    with committed(show=False):
        service.resubscribe(email, Actor("customer", None, email))
    return render_template("recovery/resubscribed.html", email=email)


@bp.post("/incomplete-orders/<int:order_id>/recovery/<any(pause, resume, 'send-next'):change>")
@role_required("agent")
def change_recovery(order_id, change):
    order = db.session.get(IncompleteOrder, order_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    actor = Actor.staff(current_user)
    category = "success"
    with committed():
        if change == "pause":
            service.pause(order, actor)
            message = "Recovery emails paused for this cart."
        elif change == "resume":
            service.resume(order, actor)
            message = "Recovery emails resumed."
        elif service.queue_next_step_now(actor, IncompleteOrder.id == order.id):
            db.session.refresh(order)
            message = (
                f"Step {order.recovery_attempts} is in the outbox; "
                "it goes out with the next delivery run."
            )
        else:
            reason = why_not_now(order, RecoverySettings.from_config()) or "nothing is due"
            message, category = f"No email was sent: {reason}.", "warning"
    flash(message, category)
    return redirect(url_for("incomplete_orders.detail", order_id=order.id) + "#recovery")
