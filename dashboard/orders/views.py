from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from dashboard.audit.service import Actor
from dashboard.auth.forms import EmptyForm
from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.htmx import render_page_or_fragment
from dashboard.incomplete_orders.timeline import timeline
from dashboard.orders import queries, service
from dashboard.orders.forms import OrderFilterForm
from dashboard.orders.models import Order
from dashboard.returns.queries import requests_for_order
from dashboard.transaction import committed

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/")
@role_required("viewer")
def list_orders():
    result = queries.list_page(OrderFilterForm(request.args), current_app.config["PAGE_SIZE"])
    return render_page_or_fragment("orders/list.html", "orders/_table.html", result=result)


@bp.get("/<int:order_id>")
@role_required("viewer")
def detail(order_id):
    order = db.session.get(Order, order_id, options=[selectinload(Order.items)]) or abort(404)
    return render_template(
        "orders/detail.html",
        order=order,
        history=queries.history(order),
        # The story of the cart it came from, told as on the cart's page.
        cart_timeline=timeline(order.incomplete_order) if order.incomplete_order else None,
        return_requests=requests_for_order(order.id),
        empty_form=EmptyForm(),
    )


@bp.post("/<int:order_id>/mark-paid")
@role_required("agent")
def mark_paid(order_id):
    order = db.session.get(Order, order_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed("warning") as change:
        service.mark_paid(order, Actor.staff(current_user))
    if change.ok:
        flash(f"Order {order.number} is marked paid.", "success")
    return redirect(url_for(".detail", order_id=order.id))
