from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dashboard.audit.service import Actor, record
from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.htmx import render_page_or_fragment
from dashboard.outbox import queries, service
from dashboard.outbox.forms import OutboxFilterForm
from dashboard.outbox.models import WENT_OUT, OutboxMessage
from dashboard.outbox.queries import KINDS
from dashboard.transaction import committed

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@bp.get("/")
@role_required("viewer")
def list_messages():
    form = OutboxFilterForm(request.args)
    result = queries.list_page(form, current_app.config["PAGE_SIZE"])
    to = form.to.data if not form.to.errors else None
    return render_page_or_fragment(
        "outbox/list.html",
        "outbox/_table.html",
        result=result,
        kinds=KINDS,
        about=queries.about(result.rows),
        partial_search=queries.recipient_search_is_partial(to),
        search_window=queries.RECIPIENT_SEARCH_WINDOW,
    )


def _content(message):
    if message.written:
        return message
    if message.status == "withdrawn":
        return service.Withdrawn(message.last_error)
    if message.status in WENT_OUT:
        return service.NotKept()
    # Not written yet: as it would be written if it went out now.
    return service.render([message])[message.id]


@bp.get("/<int:message_id>")
@role_required("viewer")
def detail(message_id):
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    content = _content(message)
    return render_template(
        "outbox/detail.html",
        message=message,
        content=content,
        withdrawn=isinstance(content, service.Withdrawn),
        unwritable=isinstance(content, service.Unwritable),
        not_kept=isinstance(content, service.NotKept),
        kinds=KINDS,
    )


# The email's own HTML, for the sandboxed frame on its page. Emails are styled inline, as
# mail clients expect: this document alone may use inline styles, and nothing else (no
# script, no form, no fetch); only our own pages may frame it.
PREVIEW_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data: https:",
        "frame-ancestors 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        # same-origin only so static/app.js on the page can size the frame to the email
        "sandbox allow-same-origin",
    )
)


@bp.get("/<int:message_id>/preview.html")
@role_required("viewer")
def preview(message_id):
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    content = _content(message)
    if isinstance(content, service.Withdrawn | service.Unwritable | service.NotKept):
        abort(404)
    response = current_app.response_class(content.body_html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


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
