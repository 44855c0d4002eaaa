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
from dashboard.recovery.forms import SendNextForm
from dashboard.recovery.models import Suppression
from dashboard.recovery.rules import RecoverySettings, why_not_now, within_gap
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


@bp.post("/incomplete-orders/<int:order_id>/recovery/<any(pause, resume):change>")
@role_required("agent")
def change_recovery(order_id, change):
    order = db.session.get(IncompleteOrder, order_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    actor = Actor.staff(current_user)
    with committed():
        if change == "pause":
            service.pause(order, actor)
            message = "Recovery emails paused for this cart."
        else:
            service.resume(order, actor)
            message = "Recovery emails resumed."
    flash(message, "success")
    return _back_to(order)


@bp.route("/incomplete-orders/<int:order_id>/recovery/send-next", methods=["GET", "POST"])
@role_required("agent")
def send_next(order_id):
    """A person's "send the next step now": a confirm step that says what goes to whom and
    when the last email went, then the POST. Within RECOVERY_MANUAL_MIN_GAP_HOURS of the
    last email it sends only with "send anyway" ticked (recorded in the audit event)."""
    order = db.session.get(IncompleteOrder, order_id) or abort(404)
    form = SendNextForm()
    settings = RecoverySettings.from_config()
    if form.validate_on_submit():
        send_anyway = form.send_anyway.data
        with committed():
            queued = service.queue_next_step_now(
                Actor.staff(current_user),
                IncompleteOrder.id == order.id,
                settings=settings,
                send_anyway=send_anyway,
            )
        if queued:
            db.session.refresh(order)
            flash(
                f"Step {order.recovery_attempts} is in the outbox for {order.email}; "
                "it goes out with the next delivery run.",
                "success",
            )
        else:
            reason = why_not_now(order, settings, send_anyway=send_anyway) or "nothing is due"
            flash(f"No email was sent: {reason}.", "warning")
        return _back_to(order)
    step = order.recovery_attempts + 1
    return render_template(
        "recovery/send_next.html",
        order=order,
        form=form,
        step=step,
        subject=render_template(
            "emails/recovery_subject.txt", step=step, order=order, shop=current_app.config
        ).strip()
        if step <= settings.max_attempts
        else None,
        refused=why_not_now(order, settings, send_anyway=True),
        within_gap=within_gap(order, settings),
        gap_hours=settings.manual_min_gap.total_seconds() / 3600,
    )


def _back_to(order):
    return redirect(url_for("incomplete_orders.detail", order_id=order.id) + "#recovery")
