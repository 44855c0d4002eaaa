from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, SelectField

from dashboard.audit.service import Actor, record
from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.forms import FilterForm, options
from dashboard.htmx import render_page_or_fragment
from dashboard.listing import SortOption, bounded_count, keyset_page, parse_amount
from dashboard.outbox import service
from dashboard.outbox.models import OUTBOX_STATUSES, OutboxMessage
from dashboard.transaction import committed

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

OUTBOX_SORT = SortOption("id", "Newest", OutboxMessage.id, parse_amount)
KINDS = {"recovery": "Recovery", "order_confirmation": "Order confirmation"}


class OutboxFilterForm(FilterForm):
    status = SelectField(
        "Status",
        choices=options([("", "Any status"), *((s, s.capitalize()) for s in OUTBOX_STATUSES)]),
        default="",
    )
    kind = SelectField("Kind", choices=options([("", "Any kind"), *KINDS.items()]), default="")
    cursor = HiddenField()


@bp.get("/")
@role_required("viewer")
def list_messages():
    form = OutboxFilterForm(request.args)
    filters = form.valid_data()
    stmt = select(OutboxMessage)
    if filters.get("status"):
        stmt = stmt.where(OutboxMessage.status == filters["status"])
    if filters.get("kind"):
        stmt = stmt.where(OutboxMessage.kind == filters["kind"])
    page = keyset_page(
        db.session,
        stmt,
        OUTBOX_SORT,
        OutboxMessage.id,
        True,
        filters.get("cursor"),
        current_app.config["PAGE_SIZE"],
    )
    count, capped = bounded_count(db.session, stmt, OutboxMessage.id)
    return render_page_or_fragment(
        "outbox/list.html",
        "outbox/_table.html",
        form=form,
        page=page,
        count=count,
        capped=capped,
        kinds=KINDS,
    )


@bp.get("/<int:message_id>")
@role_required("viewer")
def detail(message_id):
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    if message.written:
        content = message
    elif message.status == "withdrawn":
        content = service.Withdrawn(message.last_error)
    else:  # not written yet: show it as it would be written if it went out now
        content = service.render([message])[message.id]
    return render_template(
        "outbox/detail.html",
        message=message,
        content=content,
        withdrawn=isinstance(content, service.Withdrawn),
        unwritable=isinstance(content, service.Unwritable),
        kinds=KINDS,
    )


@bp.post("/<int:message_id>/retry")
@role_required("manager")
def retry(message_id):
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    with committed("warning") as change:
        service.retry_now(message)
        record(Actor.staff(current_user), "outbox.retry", "outbox_message", message.id)
    if change.ok:
        flash("Queued again; it goes out with the next delivery run.", "success")
    return redirect(url_for(".detail", message_id=message.id))
