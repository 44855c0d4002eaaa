"""Changes to incomplete orders: snapshots from the storefront, staff transitions, notes.

Functions here flush and write audit events; the caller commits.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dashboard.audit.service import record, record_bulk
from dashboard.extensions import db
from dashboard.incomplete_orders.models import (
    STAGES,
    IncompleteOrder,
    IncompleteOrderItem,
    IncompleteOrderNote,
)
from dashboard.incomplete_orders.timeline import created_with, record_cart_event, snapshot_changes
from dashboard.line_items import ItemSnapshot
from dashboard.recovery.holdout import assign_holdout
from dashboard.timeutil import utcnow
from dashboard.transaction import DomainError


class IncompleteOrderError(DomainError):
    """A change that the rules refuse; the message says why."""


@dataclass
class CartSnapshot:
    """What the storefront knows about a cart at one moment."""

    cart_id: str
    currency: str
    snapshot_at: datetime
    items: list[ItemSnapshot] = field(default_factory=list)
    stage: str = "cart"
    customer_id: str | None = None
    guest_session: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None

    @property
    def subtotal(self):
        return sum(item.quantity * item.unit_price for item in self.items)


CONTACT_FIELDS = ("customer_id", "guest_session", "email", "phone", "name", "stage", "currency")


def _same_content(order, snapshot):
    if any(getattr(order, f) != getattr(snapshot, f) for f in CONTACT_FIELDS):
        return False
    mine = [(i.sku, i.name, i.quantity, i.unit_price) for i in order.items]
    theirs = [(i.sku, i.name, i.quantity, i.unit_price) for i in snapshot.items]
    return mine == theirs


def apply_snapshot(snapshot, actor):
    """Create or update the incomplete order for a storefront cart.

    Returns (order, outcome), outcome one of: created, updated, unchanged, stale
    (an older snapshot than the one held), closed (the customer emptied the cart: it is
    cancelled), final (the order is converted or cancelled and a snapshot does not
    reopen it), ignored (an empty cart never seen before; order is None).
    """
    if snapshot.stage not in STAGES:
        raise IncompleteOrderError(f"Stage must be one of {', '.join(STAGES)}.")
    snapshot.email = snapshot.email.strip().lower() if snapshot.email else None
    now = utcnow()
    order = _locked_by_cart_id(snapshot.cart_id)
    if order is None:
        if not snapshot.items:
            return None, "ignored"
        order = IncompleteOrder(
            cart_id=snapshot.cart_id, created_at=snapshot.snapshot_at, status_changed_at=now
        )
        _copy_snapshot(order, snapshot, now)
        try:
            with db.session.begin_nested():
                db.session.add(order)
                db.session.flush()
        except IntegrityError:
            # A concurrent request created this cart first: apply ours on top of it.
            order = _locked_by_cart_id(snapshot.cart_id)
        else:
            event = record(
                actor,
                "incomplete_order.create",
                "incomplete_order",
                order.id,
                items=order.item_count,
                subtotal=order.subtotal,
            )
            record_cart_event(order, "created", created_with(snapshot), actor, event)
            return order, "created"

    if order.status in ("converted", "cancelled"):
        return order, "final"
    if snapshot.snapshot_at < order.last_activity_at:
        return order, "stale"
    if _same_content(order, snapshot):
        # Activity without a change (the customer looked at the cart) still restarts
        # the recovery clock, without an audit entry per heartbeat.
        order.last_activity_at = snapshot.snapshot_at
        return order, "unchanged"
    if not snapshot.items:
        order.status, order.status_changed_at = "cancelled", now
        order.updated_at = order.last_activity_at = snapshot.snapshot_at
        db.session.flush()
        record(actor, "incomplete_order.close_emptied", "incomplete_order", order.id)
        return order, "closed"
    changes = snapshot_changes(order, snapshot)  # before the copy: it replaces the items
    _copy_snapshot(order, snapshot, now)
    if order.status == "expired":  # new activity makes an expired cart worth winning back
        order.status, order.status_changed_at = "open", now
        changes["reopened"] = True
    db.session.flush()
    event = record(
        actor,
        "incomplete_order.update",
        "incomplete_order",
        order.id,
        items=order.item_count,
        subtotal=order.subtotal,
        stage=order.stage,
    )
    record_cart_event(order, "changed", changes, actor, event)
    return order, "updated"


def _locked_by_cart_id(cart_id):
    # FOR UPDATE serialises snapshots of one cart on PostgreSQL; SQLite's writers are
    # serialised by BEGIN IMMEDIATE already.
    return db.session.scalar(
        select(IncompleteOrder).where(IncompleteOrder.cart_id == cart_id).with_for_update()
    )


def _copy_snapshot(order, snapshot, now):
    assign_holdout(order, snapshot.email)  # before the email is copied: it compares them
    for name in CONTACT_FIELDS:
        setattr(order, name, getattr(snapshot, name))
    order.items = [
        IncompleteOrderItem(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
        for i in snapshot.items
    ]
    order.subtotal = snapshot.subtotal
    order.item_count = sum(i.quantity for i in snapshot.items)
    order.last_activity_at = snapshot.snapshot_at
    order.updated_at = now


@dataclass(frozen=True)
class Transition:
    """A status change staff can make, alone or in bulk."""

    action: str
    label: str
    done: str
    from_statuses: tuple
    to_status: str
    role: str = "agent"


TRANSITIONS = {
    "expire": Transition("expire", "Expire", "Expired", ("open",), "expired"),
    "cancel": Transition("cancel", "Cancel", "Cancelled", ("open", "expired"), "cancelled"),
    "reopen": Transition("reopen", "Reopen", "Reopened", ("expired", "cancelled"), "open"),
}
BULK_ACTIONS = ("expire", "cancel")


def _transition_statement(transition, condition):
    now = utcnow()
    return (
        update(IncompleteOrder)
        .where(condition, IncompleteOrder.status.in_(transition.from_statuses))
        .values(status=transition.to_status, status_changed_at=now)
        .returning(IncompleteOrder.id)
        .execution_options(synchronize_session=False)
    )


def change_status(order, action, actor, reason=None):
    """Move one incomplete order; refused when its status does not allow it."""
    transition = TRANSITIONS[action]
    before = order.status
    changed = (
        db.session.execute(_transition_statement(transition, IncompleteOrder.id == order.id))
        .scalars()
        .all()
    )
    if not changed:
        db.session.refresh(order)
        raise IncompleteOrderError(
            f"This incomplete order is {order.status}, so it cannot be "
            f"{transition.done.lower()} (only {' or '.join(transition.from_statuses)} ones can)."
        )
    db.session.refresh(order)
    details = {"before": before, "after": transition.to_status}
    if reason:
        details["reason"] = reason
    record(actor, f"incomplete_order.{action}", "incomplete_order", order.id, **details)
    return order


def bulk_change_status(action, condition, actor, description):
    """One set-based update of every matching order the action applies to, one audit event.

    `condition` selects the orders (chosen ids, or everything matching a filter);
    those whose status does not allow the action are left as they are. Returns the
    number changed.
    """
    if action not in BULK_ACTIONS:
        raise IncompleteOrderError(f"Bulk action must be one of {', '.join(BULK_ACTIONS)}.")
    transition = TRANSITIONS[action]
    changed = db.session.execute(_transition_statement(transition, condition)).scalars().all()
    record_bulk(
        actor,
        f"incomplete_order.bulk_{action}",
        "incomplete_order",
        changed,
        selection=description,
        after=transition.to_status,
    )
    return len(changed)


def add_note(order, body, actor, staff):
    body = (body or "").strip()
    if not body:
        raise IncompleteOrderError("A note cannot be empty.")
    if len(body) > 5000:
        raise IncompleteOrderError("A note can have at most 5,000 characters.")
    note = IncompleteOrderNote(incomplete_order_id=order.id, staff_id=staff.id, body=body)
    db.session.add(note)
    db.session.flush()
    record(actor, "incomplete_order.note", "incomplete_order", order.id, note_id=note.id)
    return note
