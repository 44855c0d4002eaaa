from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import selectinload

from dashboard import bulk as bulk_steps
from dashboard.audit.service import Actor
from dashboard.auth.forms import EmptyForm
from dashboard.auth.permissions import role_required
from dashboard.confirm import confirm_page
from dashboard.csv_export import stream_csv
from dashboard.extensions import db
from dashboard.formatting import money, shop_time
from dashboard.htmx import render_page_or_fragment
from dashboard.incomplete_orders import queries, service, timeline
from dashboard.incomplete_orders.bulk import INCOMPLETE_ORDER_BULK
from dashboard.incomplete_orders.forms import (
    ConvertForm,
    IncompleteOrderFilterForm,
    NoteForm,
)
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.panels import panels_for
from dashboard.money import csv_amount
from dashboard.orders.service import AlreadyConverted, convert_to_order
from dashboard.timeutil import to_shop_time, utcnow
from dashboard.transaction import committed

bp = Blueprint("incomplete_orders", __name__, url_prefix="/incomplete-orders")


def _get_order(order_id):
    return db.session.get(IncompleteOrder, order_id) or abort(404)


@bp.get("/")
@role_required("viewer")
def list_incomplete_orders():
    form = IncompleteOrderFilterForm(request.args)
    result = queries.list_page(form, current_app.config["PAGE_SIZE"])
    return render_page_or_fragment(
        "incomplete_orders/list.html",
        "incomplete_orders/_table.html",
        result=result,
        bulk=INCOMPLETE_ORDER_BULK,
    )


@bp.get("/count")
@role_required("viewer")
def count():
    filters = IncompleteOrderFilterForm(request.args).valid_data()
    return render_template("incomplete_orders/_count.html", count=queries.count_matching(filters))


def _shop_iso(value):
    return to_shop_time(value).isoformat(timespec="seconds") if value else None


@bp.get("/export.csv")
@role_required("viewer")
def export_csv():
    filters = IncompleteOrderFilterForm(request.args).valid_data()

    def rows():
        for o in queries.export_rows(filters):
            yield (
                o.id,
                o.cart_id,
                o.status,
                o.stage,
                "guest" if o.is_guest else "registered",
                o.customer_id or o.guest_session,
                o.email,
                o.name,
                o.phone,
                o.currency,
                csv_amount(o.subtotal, o.currency),
                o.item_count,
                o.recovery_attempts,
                _shop_iso(o.recovery_last_sent_at),
                _shop_iso(o.recovery_paused_at),
                _shop_iso(o.created_at),
                _shop_iso(o.last_activity_at),
            )

    header = (
        "id",
        "cart_id",
        "status",
        "stage",
        "customer_type",
        "customer",
        "email",
        "name",
        "phone",
        "currency",
        "subtotal",
        "items",
        "recovery_emails",
        "last_email_sent_at",
        "recovery_paused_at",
        "created_at",
        "last_activity_at",
    )
    # Named after the view and the shop's day: incomplete-orders-open-2026-12-01.csv.
    view = filters.get("status") or "all"
    today = to_shop_time(utcnow()).date().isoformat()
    return stream_csv(f"incomplete-orders-{view}-{today}.csv", header, rows())


@bp.post("/bulk")
@role_required("viewer")  # each action names the role it needs: bulk.read_request checks it
def bulk():
    asked = bulk_steps.read_request(INCOMPLETE_ORDER_BULK)
    if asked.nothing_selected:
        return bulk_steps.nothing_selected(asked, ".list_incomplete_orders")
    if not asked.confirmed:
        return bulk_steps.confirm_step(asked, ".list_incomplete_orders")
    with committed(show=False) as change:
        message = bulk_steps.run(asked, Actor.staff(current_user))
    if isinstance(change.refused, bulk_steps.CountNotTyped):
        return bulk_steps.confirm_step(asked, ".list_incomplete_orders", problem=change.message)
    if not change.ok:
        return bulk_steps.done(asked, change.message, ".list_incomplete_orders", "danger")
    return bulk_steps.done(asked, message, ".list_incomplete_orders")


@bp.get("/<int:order_id>")
@role_required("viewer")
def detail(order_id):
    order = db.session.get(
        IncompleteOrder, order_id, options=[selectinload(IncompleteOrder.items)]
    ) or abort(404)
    # Opened from the list: its query string, read only as that list's filters.
    back = request.args.get("back")
    return render_template(
        "incomplete_orders/detail.html",
        order=order,
        timeline=timeline.timeline(order),
        customer=timeline.customer_context(order),
        position=timeline.list_position(order, back) if back is not None else None,
        note_form=NoteForm(),
        convert_form=ConvertForm(),
        transitions=service.TRANSITIONS,
        panels=panels_for(order),
    )


@bp.route("/<int:order_id>/convert", methods=["GET", "POST"])
@role_required("agent")
def convert(order_id):
    order = _get_order(order_id)
    if order.status == "converted" and order.converted_order is not None:
        flash(f"Already converted — see order {order.converted_order.number}.", "info")
        return redirect(url_for("orders.detail", order_id=order.converted_order.id))
    form = ConvertForm()
    if form.validate_on_submit():
        with committed(show=False) as change:
            new_order = convert_to_order(
                order,
                Actor.staff(current_user),
                staff=current_user,
                payment_received=form.payment.data == "received",
            )
        if isinstance(change.refused, AlreadyConverted):
            flash(change.message, "warning")
            return redirect(url_for("orders.detail", order_id=change.refused.order.id))
        if not change.ok:
            flash(change.message, "danger")
            return redirect(url_for(".detail", order_id=order.id))
        flash(f"Converted — order {new_order.number} created.", "success")
        return redirect(url_for("orders.detail", order_id=new_order.id))
    status = 422 if request.method == "POST" else 200
    return render_template("incomplete_orders/convert.html", order=order, form=form), status


@bp.get("/<int:order_id>/cancel")
@role_required("agent")
def confirm_cancel(order_id):
    order = _get_order(order_id)
    who = order.name or order.email or "this customer"
    return confirm_page(
        title=f"Cancel the cart of {who}?",
        lines=(
            f"{order.item_count} item{'s' if order.item_count != 1 else ''}, "
            f"{money(order.subtotal, order.currency)}, last active "
            f"{shop_time(order.last_activity_at)}.",
            "A cancelled cart gets no more recovery emails and leaves the open list. "
            "You can reopen it later from its page.",
        ),
        action=url_for(
            ".change_status", order_id=order.id, action="cancel", back=request.args.get("back")
        ),
        button="Cancel the cart",
        back=_detail_url(order),
        back_label="Keep the cart open",
    )


def _detail_url(order, anchor=""):
    """The cart's page, still within the list it was opened from (`back`, as detail reads it)."""
    return url_for(".detail", order_id=order.id, back=request.args.get("back")) + anchor


@bp.post("/<int:order_id>/<any(expire, cancel, reopen):action>")
@role_required("agent")
def change_status(order_id, action):
    order = _get_order(order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed() as change:
        service.change_status(order, action, Actor.staff(current_user))
    if change.ok:
        flash(f"{service.TRANSITIONS[action].done}.", "success")
    return redirect(_detail_url(order))


@bp.post("/<int:order_id>/notes")
@role_required("agent")
def add_note(order_id):
    order = _get_order(order_id)
    form = NoteForm()
    if not form.validate_on_submit():
        flash(" ".join(form.body.errors) or "The note could not be saved.", "danger")
        return redirect(_detail_url(order, "#timeline"))
    with committed() as change:
        service.add_note(order, form.body.data, Actor.staff(current_user), current_user)
    if change.ok:
        flash("Note added.", "success")
    return redirect(_detail_url(order, "#timeline"))
