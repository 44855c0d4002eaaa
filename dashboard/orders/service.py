"""Turning incomplete orders into orders, exactly once."""

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dashboard.audit.service import record
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order, OrderItem
from dashboard.timeutil import utcnow


class ConversionRefused(Exception):
    """The incomplete order cannot be converted; the message says why."""


class AlreadyConverted(ConversionRefused):
    def __init__(self, order):
        self.order = order
        super().__init__(f"Already converted — see order {order.number}.")


def staff_order_number(incomplete_order_id):
    return f"RC-{incomplete_order_id:07d}"


def convert_to_order(
    incomplete_order,
    actor,
    *,
    staff=None,
    payment_received=True,
    number=None,
    source="staff",
    placed_at=None,
):
    """Make the order for an open incomplete order; happens once, whatever races occur.

    The status moves with a conditional UPDATE (…WHERE status='open'), which works the
    same on SQLite and PostgreSQL; whoever updates no row lost the race and gets
    AlreadyConverted with the winner's order. The unique orders.incomplete_order_id
    is the last line of defence.
    """
    if not incomplete_order.items:
        raise ConversionRefused("This incomplete order has no items, so there is nothing to order.")
    if not incomplete_order.email:
        raise ConversionRefused(
            "This incomplete order has no email address; the customer could not be sent a "
            "confirmation. Add the customer's contact details in the storefront first."
        )
    now = utcnow()
    won = db.session.execute(
        update(IncompleteOrder)
        .where(IncompleteOrder.id == incomplete_order.id, IncompleteOrder.status == "open")
        .values(status="converted", status_changed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.refresh(incomplete_order)
        existing = db.session.scalar(
            select(Order).where(Order.incomplete_order_id == incomplete_order.id)
        )
        if existing is not None:
            raise AlreadyConverted(existing)
        raise ConversionRefused(
            f"This incomplete order is {incomplete_order.status}; only open ones can be "
            "converted. Reopen it first if the customer still wants it."
        )
    order = Order(
        number=number or staff_order_number(incomplete_order.id),
        source=source,
        incomplete_order_id=incomplete_order.id,
        converted_by_id=staff.id if staff else None,
        customer_id=incomplete_order.customer_id,
        email=incomplete_order.email,
        name=incomplete_order.name,
        phone=incomplete_order.phone,
        currency=incomplete_order.currency,
        total=incomplete_order.subtotal,
        payment_received=payment_received,
        placed_at=placed_at or now,
        created_at=now,
        items=[
            OrderItem(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
            for i in incomplete_order.items
        ],
    )
    db.session.add(order)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(
            select(Order).where(Order.incomplete_order_id == incomplete_order.id)
        )
        if existing is None:
            raise
        raise AlreadyConverted(existing) from None
    db.session.refresh(incomplete_order)
    record(
        actor,
        "incomplete_order.convert",
        "incomplete_order",
        incomplete_order.id,
        order_id=order.id,
        order_number=order.number,
        payment_received=payment_received,
    )
    record(
        actor,
        "order.create",
        "order",
        order.id,
        number=order.number,
        source=source,
        incomplete_order_id=incomplete_order.id,
    )
    return order
