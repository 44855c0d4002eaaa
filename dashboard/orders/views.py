from flask import Blueprint, abort, current_app, render_template, request

from dashboard.auth.permissions import role_required
from dashboard.extensions import db
from dashboard.htmx import render_page_or_fragment
from dashboard.orders import queries
from dashboard.orders.forms import OrderFilterForm
from dashboard.orders.models import Order

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/")
@role_required("viewer")
def list_orders():
    form = OrderFilterForm(request.args)
    filters = form.valid_data()
    page, count, capped, sort = queries.list_page(filters, current_app.config["PAGE_SIZE"])
    return render_page_or_fragment(
        "orders/list.html",
        "orders/_table.html",
        form=form,
        page=page,
        count=count,
        capped=capped,
        sort=sort,
    )


@bp.get("/<int:order_id>")
@role_required("viewer")
def detail(order_id):
    order = db.session.get(Order, order_id) or abort(404)
    return render_template("orders/detail.html", order=order)
