"""Changes to incomplete orders: snapshots from the storefront, staff transitions, notes.

Functions here flush and write audit events; the caller commits.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.orm.util import identity_key

from dashboard.audit.models import AuditEvent
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
from dashboard.recovery.holdout import assign_holdout, holdout_group
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

    @property
    def item_count(self):
        return sum(item.quantity for item in self.items)


CONTACT_FIELDS = ("customer_id", "guest_session", "email", "phone", "name", "stage", "currency")

# The snapshot path is the storefront's hot path (every cart change of every customer). It
# reads the cart through the session, so that the caller gets the usual object, but writes
# with one plain statement per table instead of the unit of work's flushes, and tells the
# loaded object what it wrote (`set_committed_value`), so nothing is left for a flush and
# nothing is read back. Its statements are built once, with their values as parameters:
# building one and working out its cache key cost more than running it on SQLite.
_orders = IncompleteOrder.__table__
_items = IncompleteOrderItem.__table__
_audit_events = AuditEvent.__table__

# FOR UPDATE serialises snapshots of one cart on PostgreSQL; SQLite's writers are
# serialised by BEGIN IMMEDIATE already. The row is read as plain columns and handed to the
# session as loaded (`_as_loaded`): the ORM's own loading of a query costs more.
LOCK_CART = select(_orders).where(_orders.c.cart_id == bindparam("cart_id")).with_for_update()
# A concurrent snapshot can create the same cart between that SELECT and this INSERT on
# PostgreSQL (on SQLite BEGIN IMMEDIATE rules it out): it then inserts nothing and the
# cart is read again. As text with the columns' own types it is compiled once, where the
# dialects' ON CONFLICT constructs are compiled again for every request.
_NEW_ORDER_COLUMNS = [c for c in _orders.columns if c.key != "id"]
INSERT_ORDER = text(
    f"INSERT INTO incomplete_orders ({', '.join(c.name for c in _NEW_ORDER_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c.key for c in _NEW_ORDER_COLUMNS)}) "
    "ON CONFLICT (cart_id) DO NOTHING RETURNING id"
).bindparams(*(bindparam(c.key, type_=c.type) for c in _NEW_ORDER_COLUMNS))
# SET takes the columns named in the parameters besides order_id.
UPDATE_ORDER = update(_orders).where(_orders.c.id == bindparam("order_id"))
_ITEM_COLUMNS = (_items.c.sku, _items.c.name, _items.c.quantity, _items.c.unit_price)
ITEMS_OF_ORDER = (
    select(*_ITEM_COLUMNS)
    .where(_items.c.incomplete_order_id == bindparam("order_id"))
    .order_by(_items.c.id)
)
DELETE_ITEMS = (
    delete(_items)
    .where(_items.c.incomplete_order_id == bindparam("order_id"))
    .returning(_items.c.id, *_ITEM_COLUMNS)
)
INSERT_ITEMS = insert(_items)
INSERT_AUDIT_EVENT = insert(_audit_events).returning(_audit_events.c.id)


def _same_content(held, snapshot):
    if any(getattr(held, f) != getattr(snapshot, f) for f in CONTACT_FIELDS):
        return False
    mine = [(i.sku, i.name, i.quantity, i.unit_price) for i in held.items]
    theirs = [(i.sku, i.name, i.quantity, i.unit_price) for i in snapshot.items]
    return mine == theirs


def _may_be_the_same(order, snapshot):
    # The row's subtotal and item count are its items' sums: when either differs from the
    # snapshot's, so do the items, and they need not be read to know it.
    return (
        order.subtotal == snapshot.subtotal
        and order.item_count == snapshot.item_count
        and all(getattr(order, f) == getattr(snapshot, f) for f in CONTACT_FIELDS)
    )


def apply_snapshot(snapshot, actor):
    """Create or update the incomplete order for a storefront cart.

    Returns (order, outcome), outcome one of: created, updated, unchanged, stale
    (an older snapshot than the one held), closed (the customer emptied the cart: it is
    cancelled), final (the order is converted or cancelled and a snapshot does not
    reopen it), ignored (an empty cart never seen before; order is None). After created,
    updated and unchanged the order's items are the snapshot's; the order's `items` are
    read again when asked for.
    """
    if snapshot.stage not in STAGES:
        raise IncompleteOrderError(f"Stage must be one of {', '.join(STAGES)}.")
    snapshot.email = snapshot.email.strip().lower() if snapshot.email else None
    now = utcnow()
    db.session.flush()  # as a query through the session would: it reads what was written
    connection = db.session.connection()  # every statement below goes straight to it
    order = _locked_by_cart_id(connection, snapshot.cart_id)
    if order is None:
        if not snapshot.items:
            return None, "ignored"
        order = _insert_order(connection, snapshot, now)
        if order is not None:
            _insert_items(connection, order.id, snapshot.items)
            event = _audit(
                connection,
                actor,
                "incomplete_order.create",
                order.id,
                items=order.item_count,
                subtotal=order.subtotal,
            )
            record_cart_event(connection, order, "created", created_with(snapshot), actor, event)
            return order, "created"
        # A concurrent request created this cart first: apply ours on top of it.
        order = _locked_by_cart_id(connection, snapshot.cart_id)

    if order.status in ("converted", "cancelled"):
        return order, "final"
    if snapshot.snapshot_at < order.last_activity_at:
        return order, "stale"
    db.session.expire(order, ["items"])  # replaced below, or read again if asked for
    if _may_be_the_same(order, snapshot) and _same_content(
        _held(order, _items_of(connection, order.id)), snapshot
    ):
        # Activity without a change (the customer looked at the cart) still restarts
        # the recovery clock, without an audit entry per heartbeat.
        if order.last_activity_at != snapshot.snapshot_at:
            _write(connection, order, last_activity_at=snapshot.snapshot_at)
        return order, "unchanged"
    if not snapshot.items:
        _write(
            connection,
            order,
            status="cancelled",
            status_changed_at=now,
            updated_at=snapshot.snapshot_at,
            last_activity_at=snapshot.snapshot_at,
        )
        _audit(connection, actor, "incomplete_order.close_emptied", order.id)
        return order, "closed"
    held = _held(order, _replace_items(connection, order.id, snapshot.items))
    changes = snapshot_changes(held, snapshot)
    values = {
        name: value
        for name, value in _snapshot_values(snapshot, now).items()
        # Only what changed is SET: the search index is rewritten when its columns are.
        if getattr(order, name) != value
    }
    if "email" in values:
        assign_holdout(order, snapshot.email)  # before the email is written: it compares them
        values["recovery_holdout"] = order.recovery_holdout
    if order.status == "expired":  # new activity makes an expired cart worth winning back
        values.update(status="open", status_changed_at=now)
        changes["reopened"] = True
    _write(connection, order, **values)
    event = _audit(
        connection,
        actor,
        "incomplete_order.update",
        order.id,
        items=order.item_count,
        subtotal=order.subtotal,
        stage=order.stage,
    )
    record_cart_event(connection, order, "changed", changes, actor, event)
    return order, "updated"


def _locked_by_cart_id(connection, cart_id):
    row = connection.execute(LOCK_CART, {"cart_id": cart_id}).first()
    return None if row is None else _as_loaded(row._asdict())


def _as_loaded(values):
    """The order in the session as if it had just been read; `values` are all its columns.
    An order the session holds already is the one returned, holding these values."""
    order = db.session.identity_map.get(identity_key(IncompleteOrder, values["id"]))
    if order is not None:
        for name, value in values.items():
            set_committed_value(order, name, value)
        return order
    # Made as a query makes what it loads: no constructor, whose every attribute set is
    # recorded as a change, only to be reset as loaded.
    order = IncompleteOrder.__mapper__.class_manager.new_instance()
    instance_dict(order).update(values)
    make_transient_to_detached(order)
    db.session.add(order)
    return order


def _snapshot_values(snapshot, now):
    """The columns a snapshot sets on its cart's row."""
    values = {name: getattr(snapshot, name) for name in CONTACT_FIELDS}
    values.update(
        subtotal=snapshot.subtotal,
        item_count=snapshot.item_count,
        last_activity_at=snapshot.snapshot_at,
        updated_at=now,
    )
    return values


def _insert_order(connection, snapshot, now):
    """The new cart's order, or None when a concurrent snapshot created it first."""
    values = {column.key: None for column in _NEW_ORDER_COLUMNS}
    values.update(
        _snapshot_values(snapshot, now),
        cart_id=snapshot.cart_id,
        status="open",
        recovery_attempts=0,
        # A new cart's group is its email's (recovery.holdout.assign_holdout on a cart
        # without one): no email went to it yet.
        recovery_holdout=holdout_group(snapshot.email),
        created_at=snapshot.snapshot_at,
        status_changed_at=now,
    )
    order_id = connection.execute(INSERT_ORDER, values).scalar()
    if order_id is None:
        return None
    return _as_loaded({"id": order_id, **values})


def _write(connection, order, **values):
    """UPDATE the order's row with `values`, and show them on the loaded object as what
    the database holds."""
    connection.execute(UPDATE_ORDER, {"order_id": order.id, **values})
    for name, value in values.items():
        set_committed_value(order, name, value)


def _items_of(connection, order_id):
    return connection.execute(ITEMS_OF_ORDER, {"order_id": order_id}).all()


def _replace_items(connection, order_id, items):
    """Replace the order's items with `items`; returns the ones it held, in their order
    (read by the DELETE itself, which returns them in no particular order)."""
    removed = connection.execute(DELETE_ITEMS, {"order_id": order_id}).all()
    _insert_items(connection, order_id, items)
    return sorted(removed, key=lambda item: item.id)


def _insert_items(connection, order_id, items):
    connection.execute(
        INSERT_ITEMS,
        [
            {
                "incomplete_order_id": order_id,
                "sku": i.sku,
                "name": i.name,
                "quantity": i.quantity,
                "unit_price": i.unit_price,
            }
            for i in items
        ],
    )


def _held(order, items):
    """What the order holds, as a snapshot, to compare with the one that arrived."""
    return CartSnapshot(
        cart_id=order.cart_id,
        currency=order.currency,
        snapshot_at=order.last_activity_at,
        items=items,
        **{name: getattr(order, name) for name in CONTACT_FIELDS if name != "currency"},
    )


def _audit(connection, actor, action, order_id, **details):
    """The event audit.service.record() writes, as one INSERT … RETURNING id (a row with
    the event's id)."""
    values = {
        "actor_type": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "action": action,
        "record_type": "incomplete_order",
        "record_id": order_id,
        "details_json": json.dumps(details, default=str, sort_keys=True),
    }
    return connection.execute(INSERT_AUDIT_EVENT, values).one()


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
    _record_bulk_change(
        actor,
        f"incomplete_order.bulk_{action}",
        changed,
        selection=description,
        after=transition.to_status,
    )
    return len(changed)


# One row per changed cart, from the array of their ids in a single statement: as an
# executemany, 10,000 targets took 0.5 s on PostgreSQL, longer than the update itself.
INSERT_TARGETS_FROM_ARRAY = db.text(
    "INSERT INTO audit_event_targets (event_id, record_type, record_id) "
    "SELECT :event_id, 'incomplete_order', unnest(CAST(:ids AS integer[]))"
)


def _record_bulk_change(actor, action, order_ids, **details):
    """The event `record_bulk` writes, every changed cart a target (each cart's timeline
    reads it from there); on PostgreSQL the targets go in as one INSERT … SELECT."""
    if not order_ids or db.session.get_bind().dialect.name != "postgresql":
        return record_bulk(actor, action, "incomplete_order", order_ids, **details)
    event = record(actor, action, "incomplete_order", None, count=len(order_ids), **details)
    event.target_count = len(order_ids)
    db.session.execute(INSERT_TARGETS_FROM_ARRAY, {"event_id": event.id, "ids": list(order_ids)})
    return event


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
