"""Customers' links from recovery emails: restore a cart, unsubscribe. No staff login."""

from urllib.parse import quote

from flask import Blueprint, current_app, redirect, render_template, request

from dashboard import database
from dashboard.audit.service import Actor
from dashboard.extensions import csrf, db
from dashboard.recovery import service
from dashboard.recovery.tokens import read_restore_token, read_unsubscribe_token

bp = Blueprint("recovery", __name__)


@bp.get("/r/<token>")
def restore(token):
    # A GET that writes (the click): on SQLite it must begin as a writer, or a commit by
    # anyone else between its read and its write fails it with "database is locked".
    database.write_intent.set(True)
    target = read_restore_token(token)
    if target is None:
        return render_template("recovery/link_invalid.html")
    order = service.record_click(*target)
    if order is None:
        return render_template("recovery/link_invalid.html")
    db.session.commit()
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
        service.unsubscribe(email, Actor("customer", None, email))
        db.session.commit()
        return render_template("recovery/unsubscribed.html", email=email)
    return render_template("recovery/unsubscribe.html", email=email, token=token)
