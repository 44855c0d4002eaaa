"""Orders: staff converting an incomplete order, and the storefront reporting one.

Either way an incomplete order becomes an order exactly once, whatever races occur.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dashboard.audit.service import record
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.line_items import ItemSnapshot
from dashboard.orders.emails import queue_confirmation
from dashboard.orders.models import Order, OrderItem
from dashboard.signals import order_converted
from dashboard.timeutil import utcnow
from dashboard.transaction import DomainError


class ConversionRefused(DomainError):
    """The incomplete order cannot be converted; the message says why."""


class AlreadyConverted(ConversionRefused):
    def __init__(self, order):
        self.order = order
        super().__init__(f"Already converted — see order {order.number}.")


class OrderNumberConflict(DomainError):
    def __init__(self, order):
        self.order = order
        super().__init__(
            f"Order {order.number} was already reported with different content. "
            "An order number can be reported once; send the same content to repeat it."
        )


def staff_order_number(incomplete_order_id):
    return f"RC-{incomplete_order_id:07d}"


def _existing_conversion(incomplete_order_id):
    return db.session.scalar(select(Order).where(Order.incomplete_order_id == incomplete_order_id))


def _claim(incomplete_order, from_statuses):
    """Move the incomplete order to converted, if nobody else did first.

    A conditional UPDATE (… WHERE status IN from_statuses) works the same on SQLite and
    PostgreSQL: whoever updates no row lost the race and gets AlreadyConverted with the
    winner's order. The unique orders.incomplete_order_id is the last line of defence.
    """
    won = db.session.execute(
        update(IncompleteOrder)
        .where(IncompleteOrder.id == incomplete_order.id, IncompleteOrder.status.in_(from_statuses))
        .values(status="converted", status_changed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if won:
        return
    db.session.refresh(incomplete_order)
    existing = _existing_conversion(incomplete_order.id)
    if existing is not None:
        raise AlreadyConverted(existing)
    raise ConversionRefused(
        f"This incomplete order is {incomplete_order.status}; only open ones can be "
        "converted. Reopen it first if the customer still wants it."
    )


def _save(order, incomplete_order_id):
    try:
        with db.session.begin_nested():
            db.session.add(order)
            db.session.flush()
    except IntegrityError:
        existing = _existing_conversion(incomplete_order_id) if incomplete_order_id else None
        if existing is None:
            raise
        raise AlreadyConverted(existing) from None


def convert_to_order(incomplete_order, actor, *, staff=None, payment_received=True):
    """Staff turn an open incomplete order into an order (a phone order, a bank transfer)."""
    if not incomplete_order.items:
        raise ConversionRefused("This incomplete order has no items, so there is nothing to order.")
    if not incomplete_order.email:
        raise ConversionRefused(
            "This incomplete order has no email address; the customer could not be sent a "
            "confirmation. Add the customer's contact details in the storefront first."
        )
    _claim(incomplete_order, ("open",))
    now = utcnow()
    order = Order(
        number=staff_order_number(incomplete_order.id),
        source="staff",
        incomplete_order_id=incomplete_order.id,
        converted_by_id=staff.id if staff else None,
        customer_id=incomplete_order.customer_id,
        email=incomplete_order.email,
        name=incomplete_order.name,
        phone=incomplete_order.phone,
        currency=incomplete_order.currency,
        total=incomplete_order.subtotal,
        payment_received=payment_received,
        placed_at=now,
        created_at=now,
        items=[OrderItem(**item.copy_fields()) for item in incomplete_order.items],
    )
    _save(order, incomplete_order.id)
    order_converted.send(order, incomplete_order_id=incomplete_order.id)
    queue_confirmation(order)
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
        source="staff",
        incomplete_order_id=incomplete_order.id,
    )
    return order


@dataclass
class OrderLine(ItemSnapshot):
    """An order's line as the storefront reports it: a cart line, and what it actually cost
    after discounts when the storefront knows (refunds are computed from it)."""

    paid_total: int | None = None


@dataclass
class StorefrontOrder:
    """A completed order as the storefront reports it."""

    number: str
    placed_at: datetime
    currency: str
    total: int
    items: list[ItemSnapshot] = field(default_factory=list)
    cart_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    shipping_total: int | None = None
    # Reported later with PATCH as a rule; not part of what makes a report "the same".
    delivered_at: datetime | None = None

    def same_as(self, order):
        cart_id = order.incomplete_order.cart_id if order.incomplete_order else None
        mine = [_line(i) for i in self.items]
        theirs = [_line(i) for i in order.items]
        return (
            (self.currency, self.total, self.email, self.customer_id, self.placed_at)
            == (order.currency, order.total, order.email, order.customer_id, order.placed_at)
            and self.shipping_total == order.shipping_total
            and mine == theirs
            and (self.cart_id is None or self.cart_id == cart_id)
        )


def _line(item):
    paid = getattr(item, "paid_total", None)
    return (item.sku, item.name, item.quantity, item.unit_price, paid)


def record_storefront_order(report, actor):
    """Record a completed order; with a cart id, convert that incomplete order.

    Returns (order, outcome, converted_cart). The same report twice returns the existing
    order ("existing"); the same number with other content raises OrderNumberConflict. A
    cart that staff converted already raises AlreadyConverted, and no second order is made.
    An expired or cancelled cart still converts: the customer came back and bought.
    """
    report.email = report.email.strip().lower() if report.email else None
    existing = db.session.scalar(select(Order).where(Order.number == report.number))
    if existing is not None:
        if report.same_as(existing):
            return existing, "existing", False
        raise OrderNumberConflict(existing)

    cart = None
    if report.cart_id:
        cart = db.session.scalar(
            select(IncompleteOrder).where(IncompleteOrder.cart_id == report.cart_id)
        )
    if cart is not None:
        try:
            _claim(cart, ("open", "expired", "cancelled"))
        except AlreadyConverted as converted:
            # A concurrent report of this same order converted the cart first.
            if converted.order.number != report.number:
                raise
            if report.same_as(converted.order):
                return converted.order, "existing", False
            raise OrderNumberConflict(converted.order) from None
    order = Order(
        number=report.number,
        source="storefront",
        incomplete_order_id=cart.id if cart else None,
        customer_id=report.customer_id,
        email=report.email,
        name=report.name,
        phone=report.phone,
        currency=report.currency,
        total=report.total,
        shipping_total=report.shipping_total,
        payment_received=True,
        placed_at=report.placed_at,
        delivered_at=report.delivered_at,
        created_at=utcnow(),
        items=[OrderItem(**asdict(item)) for item in report.items],
    )
    try:
        _save(order, cart.id if cart else None)
    except IntegrityError:
        # The same number reported by a concurrent request that committed first.
        existing = db.session.scalar(select(Order).where(Order.number == report.number))
        if existing is None:
            raise
        if report.same_as(existing):
            return existing, "existing", False
        raise OrderNumberConflict(existing) from None
    if cart is not None:
        order_converted.send(order, incomplete_order_id=cart.id)
        queue_confirmation(order)
        record(
            actor,
            "incomplete_order.convert",
            "incomplete_order",
            cart.id,
            order_id=order.id,
            order_number=order.number,
        )
    record(
        actor,
        "order.create",
        "order",
        order.id,
        number=order.number,
        source="storefront",
        incomplete_order_id=cart.id if cart else None,
    )
    return order, "created", cart is not None


class DeliveryRefused(DomainError):
    """A delivery time that cannot be right; the message says why."""


def record_delivery(order, delivered_at, actor, *, now=None):
    """Set when the order's parcel arrived (the return window counts from it), or clear it
    with None. A correction is allowed and audited like the first report."""
    now = now or utcnow()
    if delivered_at is not None:
        if delivered_at < order.placed_at:
            raise DeliveryRefused(
                f"Order {order.number} was placed at {order.placed_at:%Y-%m-%d %H:%M} UTC; "
                "it cannot have been delivered before that."
            )
        if delivered_at > now + timedelta(hours=1):
            raise DeliveryRefused(
                "The delivery time is in the future; send it once the parcel has arrived."
            )
    before = order.delivered_at
    if before == delivered_at:
        return order, False
    order.delivered_at = delivered_at
    db.session.flush()
    record(
        actor,
        "order.delivered",
        "order",
        order.id,
        number=order.number,
        before=before,
        after=delivered_at,
    )
    return order, True


class PaymentAlreadyRecorded(DomainError):
    pass


def mark_paid(order, actor):
    """Record that an order awaiting payment (a bank transfer, say) has been paid. Once:
    a second click, or a colleague's, is told it was done already."""
    won = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.payment_received.is_(False))
        .values(payment_received=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise PaymentAlreadyRecorded(f"Order {order.number} is marked paid already.")
    db.session.refresh(order)
    record(actor, "order.mark_paid", "order", order.id, number=order.number)
    return order
