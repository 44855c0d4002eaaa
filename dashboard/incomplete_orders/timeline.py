"""A cart's whole story, for its page: one timeline of everything that happened to it (the
storefront's snapshots, recovery emails, the customer's clicks and unsubscribes, staff
changes, notes, conversion), its customer's other carts and orders, and its neighbours in
the list it was opened from.

Every read here is a bounded number of queries, whatever the length of the history: each
source is read once, newest first and capped, and merged in Python.

The snapshot side lives here too (`snapshot_changes`, `record_cart_event`): the upsert records
what a snapshot changed as it applies it, since afterwards the previous content is gone.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select, tuple_, union
from werkzeug.datastructures import MultiDict

from dashboard import listing
from dashboard.audit.actions import action_label
from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.extensions import db
from dashboard.formatting import money, number
from dashboard.incomplete_orders.forms import IncompleteOrderFilterForm
from dashboard.incomplete_orders.models import (
    STAGE_LABELS,
    IncompleteOrder,
    IncompleteOrderEvent,
    IncompleteOrderNote,
)
from dashboard.incomplete_orders.queries import INCOMPLETE_ORDER_SORTS, filtered
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt, Suppression

# Enough for months of a busy cart; beyond it the page says older entries are not shown.
TIMELINE_LIMIT = 300
# The customer's other carts and orders shown on the page; "N more" links to the list.
OTHERS_SHOWN = 10
OTHERS_COUNT_CAP = 1_000
# Built once: every cart snapshot writes one (see record_cart_event).
INSERT_CART_EVENT = IncompleteOrderEvent.__table__.insert()

SYSTEM_ACTORS = {
    "recovery": "Reclaim (recovery run)",
    "cleanup": "Reclaim (clean-up)",
    "cli": "Reclaim (command line)",
    "delivery": "Reclaim (email delivery)",
}
CONTACT_LABELS = {
    "email": "Email",
    "name": "Name",
    "phone": "Phone",
    "customer_id": "Customer id",
    "guest_session": "Guest session",
    "currency": "Currency",
}
# The storefront's own create/update audit events, told better by the cart's events.
SNAPSHOT_ACTIONS = ("incomplete_order.create", "incomplete_order.update")
CUSTOMER_ACTIONS = ("recovery.unsubscribe", "recovery.resubscribe")


def who(actor_type, label):
    """The words for who did something: a staff member's email, the storefront's key, the
    customer, or Reclaim itself."""
    if actor_type == "api_key":
        return f"{label} (API key)"
    if actor_type == "system":
        return SYSTEM_ACTORS.get(label, f"Reclaim ({label})")
    if actor_type == "customer":
        return f"Customer ({label})" if label else "Customer"
    return label


# --- what a snapshot changed (written at ingest) ------------------------------------------


def _counted(items):
    """{sku: [name, quantity, unit price]} in the cart's order, one entry per SKU."""
    lines = {}
    for item in items:
        line = lines.setdefault(item.sku, [item.name, 0, item.unit_price])
        line[0], line[1], line[2] = item.name, line[1] + item.quantity, item.unit_price
    return lines


def created_with(snapshot):
    """The details of a cart's first event: what the customer started it with."""
    details = {"items": [[name, qty] for name, qty, _ in _counted(snapshot.items).values()]}
    if snapshot.stage != "cart":
        details["stage"] = [None, snapshot.stage]
    return details


def snapshot_changes(order, snapshot):
    """What `snapshot` changes in `order` (read before it is applied): stage, items added,
    removed, re-counted, re-priced or renamed, contact fields, value. Only the order's row
    and items, which the upsert has read already."""
    changes = {}
    if order.stage != snapshot.stage:
        changes["stage"] = [order.stage, snapshot.stage]
    mine, theirs = _counted(order.items), _counted(snapshot.items)
    added = [[t[0], t[1]] for sku, t in theirs.items() if sku not in mine]
    removed = [[m[0], m[1]] for sku, m in mine.items() if sku not in theirs]
    quantity, price, renamed = [], [], []
    for sku, (name, qty, unit_price) in theirs.items():
        if sku not in mine:
            continue
        old_name, old_qty, old_price = mine[sku]
        if old_qty != qty:
            quantity.append([name, old_qty, qty])
        if old_price != unit_price:
            price.append([name, old_price, unit_price])
        if old_name != name:
            renamed.append([old_name, name])
    for key, value in (
        ("added", added),
        ("removed", removed),
        ("quantity", quantity),
        ("price", price),
        ("renamed", renamed),
    ):
        if value:
            changes[key] = value
    contact = {
        name: [getattr(order, name), getattr(snapshot, name)]
        for name in CONTACT_LABELS
        if getattr(order, name) != getattr(snapshot, name)
    }
    if contact:
        changes["contact"] = contact
    if order.subtotal != snapshot.subtotal:
        changes["subtotal"] = [order.subtotal, snapshot.subtotal]
    return changes


def record_cart_event(connection, order, kind, details, actor, audit_event):
    """Write the row recording one snapshot's changes: one INSERT, straight to the table (no
    object for the session to track). `audit_event` is the upsert's own, which the timeline
    then leaves out: this row says more."""
    details = {**details, "by": [actor.kind, actor.label], "audit": audit_event.id}
    connection.execute(
        INSERT_CART_EVENT,
        {
            "incomplete_order_id": order.id,
            "at": order.last_activity_at,
            "kind": kind,
            "details_json": json.dumps(details, sort_keys=True, default=str),
        },
    )


def _items_words(items):
    return ", ".join(f"{qty} × {name}" for name, qty in items)


def change_title(details):
    """What a snapshot did, in a few words: the stage it moved to, else what it changed."""
    if details.get("stage"):
        before, after = details["stage"]
        if before is not None:
            return (
                f"Moved from {STAGE_LABELS.get(before, before)} to {STAGE_LABELS.get(after, after)}"
            )
    if any(key in details for key in ("added", "removed", "quantity", "price", "renamed")):
        return "Changed the items" + (" and contact details" if "contact" in details else "")
    if "contact" in details:
        return "Changed contact details"
    return action_label("incomplete_order.update")


def change_lines(details, currency, titled=False):
    """A snapshot event's details as sentences an agent reads."""
    lines = []
    if "stage" in details and not (titled and details["stage"][0] is not None):
        before, after = details["stage"]
        if before is None:
            lines.append(f"Started at {STAGE_LABELS.get(after, after)}")
        else:
            lines.append(
                f"Moved from {STAGE_LABELS.get(before, before)} to {STAGE_LABELS.get(after, after)}"
            )
    lines += [f"Added {qty} × {name}" for name, qty in details.get("added", ())]
    lines += [f"Removed {qty} × {name}" for name, qty in details.get("removed", ())]
    lines += [
        f"{name}: quantity {before} → {after}"
        for name, before, after in details.get("quantity", ())
    ]
    lines += [
        f"{name}: price {money(before, currency)} → {money(after, currency)}"
        for name, before, after in details.get("price", ())
    ]
    lines += [f"Renamed “{before}” to “{after}”" for before, after in details.get("renamed", ())]
    for name, (before, after) in details.get("contact", {}).items():
        label = CONTACT_LABELS.get(name, name)
        if name == "customer_id" and after and not before:
            lines.append(f"The customer signed in (customer id {after})")
        elif before and after:
            lines.append(f"{label} changed from {before} to {after}")
        elif after:
            lines.append(f"{label} given: {after}")
        else:
            lines.append(f"{label} removed (was {before})")
    if "subtotal" in details:
        before, after = details["subtotal"]
        lines.append(f"Value {money(before, currency)} → {money(after, currency)}")
    if details.get("reopened"):
        lines.append("Reopened: the expired cart had new activity")
    return lines


# --- the timeline --------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    actor: str | None = None
    body: str | None = None
    details: dict | None = None
    lines: list = field(default_factory=list)
    order_link: tuple | None = None  # (order id, number) of a conversion
    seq: int = 0  # the order in which entries at the same moment were recorded


class Timeline(list):
    """The entries, newest first; `truncated` when older ones are left out."""

    truncated = False


def _audit_events(order, limit):
    direct = select(AuditEvent.id).where(
        AuditEvent.record_type == "incomplete_order", AuditEvent.record_id == order.id
    )
    via_bulk = select(AuditEventTarget.event_id).where(
        AuditEventTarget.record_type == "incomplete_order", AuditEventTarget.record_id == order.id
    )
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.id.in_(union(direct, via_bulk)))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()


def _customer_events(order, limit):
    """Unsubscribes and resubscribes of the cart's email: the customer acts as themselves,
    so the (indexed) actor is the address."""
    if not order.email:
        return []
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.actor_label == order.email, AuditEvent.action.in_(CUSTOMER_ACTIONS))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()


def _recovery_entries(order, queued_by):
    """Each recovery step: queued (with who, from its audit event), skipped, sent, withdrawn
    (and why), failed, still retrying, and clicked."""
    attempts = db.session.scalars(
        select(RecoveryAttempt)
        .where(RecoveryAttempt.incomplete_order_id == order.id)
        .order_by(RecoveryAttempt.step)
    ).all()
    messages = {
        message.dedupe_key: message
        for message in db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.record_type == "incomplete_order",
                OutboxMessage.record_id == order.id,
                OutboxMessage.kind == "recovery",
            )
        )
    }
    delivery = SYSTEM_ACTORS["delivery"]
    entries = []
    for attempt in attempts:
        step = attempt.step
        email = f"Recovery email step {step}"
        skipped_for = getattr(attempt, "skipped_for", None)
        if skipped_for:
            entries.append(
                TimelineEntry(
                    attempt.sent_at,
                    "recovery-skipped",
                    f"{email} skipped: step {skipped_for} was already due",
                    _queued_by_words(queued_by.get(skipped_for)),
                )
            )
            continue
        queued = queued_by.get(step)
        message = messages.get(f"recovery:{order.id}:{step}")
        if message is None:
            # Sent before the outbox kept its emails (or imported): the attempt is the record.
            entries.append(
                TimelineEntry(
                    attempt.sent_at,
                    "recovery-sent",
                    f"{email} sent",
                    _queued_by_words(queued),
                )
            )
        else:
            lines = []
            if queued and queued.details.get("manual"):
                lines.append(
                    "Sent now by hand"
                    + (", ticking “send anyway”" if queued.details.get("send_anyway") else "")
                )
            entries.append(
                TimelineEntry(
                    message.created_at,
                    "recovery-queued",
                    f"{email} queued for {message.to_email}",
                    _queued_by_words(queued),
                    lines=lines,
                )
            )
            entries += _delivery_entries(email, message, delivery)
        if attempt.clicked_at:
            entries.append(
                TimelineEntry(
                    attempt.clicked_at,
                    "customer",
                    f"Customer clicked the restore link in {email.lower()}",
                    who("customer", order.email),
                )
            )
    for n, entry in enumerate(entries):  # recorded in this order: step by step, as it went
        entry.seq = n
    return entries


def _queued_by_words(event):
    """Who queued a step: the recovery run, or whoever sent it by hand."""
    return who(event.actor_type, event.actor_label) if event else SYSTEM_ACTORS["recovery"]


def _delivery_entries(email, message, delivery):
    at = message.sent_at or message.next_attempt_at or message.created_at
    if message.status == "sent":
        return [TimelineEntry(at, "recovery-sent", f"{email} sent to {message.to_email}", delivery)]
    if message.status == "printed":
        return [
            TimelineEntry(
                at,
                "recovery-sent",
                f"{email} printed to the console (development: not delivered)",
                delivery,
            )
        ]
    if message.status == "withdrawn":
        reason = message.last_error or "no longer wanted"
        return [
            TimelineEntry(
                at,
                "recovery-withdrawn",
                f"{email} withdrawn before it went out: {reason}",
                delivery,
            )
        ]
    if message.status == "failed":
        tries = f"after {message.attempts} attempts" if message.attempts > 1 else "for good"
        return [
            TimelineEntry(
                at,
                "recovery-failed",
                f"{email} could not be delivered ({tries})",
                delivery,
                body=message.last_error,
            )
        ]
    if message.last_error:  # queued again after a failed try
        return [
            TimelineEntry(
                at,
                "recovery-failed",
                f"{email}: delivery failed, trying again",
                delivery,
                body=message.last_error,
            )
        ]
    return []


def _audit_entry(event, notes):
    details = event.details
    action = event.action
    entry = TimelineEntry(
        at=event.created_at,
        kind=action.split(".", 1)[1],
        title=action_label(action),
        actor=who(event.actor_type, event.actor_label),
        details=details,
        seq=event.id,
    )
    if action == "incomplete_order.note":
        entry.kind = "note"
        note = notes.get(details.get("note_id"))
        entry.body = note.body if note else None
    elif action == "incomplete_order.convert":
        number_ = details.get("order_number")
        entry.title = f"Converted into order {number_}" if number_ else entry.title
        if details.get("order_id"):
            entry.order_link = (details["order_id"], number_)
        if "payment_received" in details:
            entry.lines.append(
                "Payment received" if details["payment_received"] else "Awaiting payment"
            )
    elif action.startswith("incomplete_order.bulk_"):
        count = details.get("count")
        if count and count > 1:
            entry.lines.append(f"Together with {number(count - 1)} other carts")
    elif action in ("recovery.unsubscribe", "recovery.resubscribe"):
        entry.kind = "customer"
        address = details.get("email", "this address")
        entry.lines.append(
            f"No recovery emails to {address}, for any of its carts"
            if action == "recovery.unsubscribe"
            else f"Recovery emails to {address} may go out again"
        )
    elif action in SNAPSHOT_ACTIONS:  # from before the cart's events were recorded
        entry.kind = "storefront"
        if "subtotal" in details and "items" in details:
            entry.lines.append(f"{details['items']} items")
    if details.get("reason"):
        entry.lines.append(f"Reason: {details['reason']}")
    return entry


def timeline(order, limit=None):
    """Everything that happened to an incomplete order, newest first, capped at `limit`
    entries (`Timeline.truncated` then). Eight queries at most, however long the history."""
    limit = limit or TIMELINE_LIMIT
    events = _audit_events(order, limit + 1)
    cart_events = db.session.scalars(
        select(IncompleteOrderEvent)
        .where(IncompleteOrderEvent.incomplete_order_id == order.id)
        .order_by(IncompleteOrderEvent.at.desc(), IncompleteOrderEvent.id.desc())
        .limit(limit + 1)
    ).all()
    note_ids = [e.details.get("note_id") for e in events if e.action == "incomplete_order.note"]
    notes = (
        {
            note.id: note
            for note in db.session.scalars(
                select(IncompleteOrderNote).where(
                    IncompleteOrderNote.incomplete_order_id == order.id,
                    IncompleteOrderNote.id.in_([i for i in note_ids if i]),
                )
            )
        }
        if note_ids
        else {}
    )
    told_by_cart_events = set()
    entries = Timeline()
    started = False
    for event in reversed(cart_events):
        details = event.details
        told_by_cart_events.add(details.get("audit"))
        by = details.get("by") or ["api_key", "storefront"]
        actor = f"Customer, via {who(*by)}"
        if event.kind == "created":
            started = True
            lines = change_lines({k: v for k, v in details.items() if k == "stage"}, order.currency)
            items = details.get("items")
            lines.insert(
                0,
                f"Customer started the cart with {_items_words(items)}"
                if items
                else "Customer started the cart",
            )
            entries.append(
                TimelineEntry(
                    event.at,
                    "started",
                    action_label("incomplete_order.create"),
                    actor,
                    lines=lines,
                    seq=event.id,
                )
            )
        else:
            entries.append(
                TimelineEntry(
                    event.at,
                    "storefront",
                    change_title(details),
                    actor,
                    lines=change_lines(details, order.currency, titled=True),
                    seq=event.id,
                )
            )
    queued_by = {}  # step -> the audit event that queued it
    converted = False
    for event in events:
        if event.action in SNAPSHOT_ACTIONS and event.id in told_by_cart_events:
            continue
        if event.action == "recovery.send":
            queued_by.setdefault(event.details.get("step"), event)
            continue  # told with the step's delivery, below
        if event.action == "incomplete_order.convert":
            converted = True
        entries.append(_audit_entry(event, notes))
    entries += _recovery_entries(order, queued_by)
    customer_events = _customer_events(order, limit)
    entries += [_audit_entry(e, notes) for e in customer_events]
    if order.email and not customer_events:
        suppression = db.session.get(Suppression, order.email)
        if suppression is not None:  # unsubscribed before the audit said so
            entries.append(
                TimelineEntry(
                    suppression.created_at,
                    "customer",
                    action_label("recovery.unsubscribe"),
                    who("customer", order.email),
                    lines=[f"No recovery emails to {order.email}, for any of its carts"],
                )
            )
    if not converted and order.status == "converted" and order.converted_order is not None:
        made = order.converted_order
        entries.append(
            TimelineEntry(
                made.placed_at,
                "convert",
                f"Converted into order {made.number}",
                "Staff" if made.source == "staff" else "The storefront",
                order_link=(made.id, made.number),
            )
        )
    truncated = len(events) > limit or len(cart_events) > limit
    if not started and not truncated:
        entries.append(
            TimelineEntry(
                at=order.created_at,
                kind="started",
                title="Customer started the cart",
                actor="Customer, via the storefront",
            )
        )
    # Newest first; among entries at the same moment, the one recorded later comes first
    # (queued before withdrawn, skipped before the step that went instead).
    entries.sort(key=lambda e: (e.at, e.seq), reverse=True)
    if len(entries) > limit:
        del entries[limit:]
        truncated = True
    entries.truncated = truncated
    return entries


# --- the customer's other carts and orders ----------------------------------------------


@dataclass
class Others:
    rows: list
    more: int  # beyond the rows shown (bounded by OTHERS_COUNT_CAP)
    capped: bool
    list_args: dict | None  # the list filtered to this customer, for "N more"


@dataclass
class CustomerContext:
    by: str  # "customer id" | "email"
    carts: Others
    orders: Others


def _others(stmt, id_column, list_args):
    rows = db.session.scalars(stmt.limit(OTHERS_SHOWN + 1)).all()
    more, capped = 0, False
    if len(rows) > OTHERS_SHOWN:
        total, capped = listing.bounded_count(
            db.session, stmt, id_column, cap=OTHERS_COUNT_CAP + OTHERS_SHOWN
        )
        more = total - OTHERS_SHOWN
        rows = rows[:OTHERS_SHOWN]
    return Others(rows, more, capped, list_args)


def customer_context(order):
    """The customer's other carts and their orders: by customer id when the cart has one,
    else by email; None for a guest without an email. Four queries at most."""
    if order.customer_id:
        by, cart_match = "customer id", IncompleteOrder.customer_id == order.customer_id
        order_match = Order.customer_id == order.customer_id
        carts_args = {"q": order.customer_id}
    elif order.email:
        by, cart_match = "email", IncompleteOrder.email == order.email
        order_match = Order.email == order.email
        carts_args = {"q": order.email}
    else:
        return None
    carts = _others(
        select(IncompleteOrder)
        .where(cart_match, IncompleteOrder.id != order.id)
        .order_by(IncompleteOrder.last_activity_at.desc(), IncompleteOrder.id.desc()),
        IncompleteOrder.id,
        carts_args,
    )
    orders = _others(
        select(Order).where(order_match).order_by(Order.placed_at.desc(), Order.id.desc()),
        Order.id,
        {"q": order.email} if order.email else None,
    )
    return CustomerContext(by, carts, orders)


# --- previous / next in the list the cart was opened from ---------------------------------


@dataclass
class ListPosition:
    """Where the cart sits in the filtered list it was opened from."""

    list_args: dict  # the list's query, rebuilt from its parsed filters
    previous_id: int | None
    next_id: int | None

    @property
    def back(self):
        """The list's query string, as the row links carry it (`?back=`)."""
        return urlencode(self.list_args)


def list_position(order, back):
    """Previous and next cart in the list `back` (its query string) describes, with the same
    filters and sort: one keyset query each. The query string is only read as filters, never
    used as a URL."""
    form = IncompleteOrderFilterForm(MultiDict(parse_qsl(back or "")[:50]))
    filters = form.valid_data()
    filters.pop("cursor", None)
    list_args = {k: v for k, v in listing.form_state(form).items() if k in filters}
    sort, descending = INCOMPLETE_ORDER_SORTS.resolve(filters.get("sort"))
    key = tuple_(sort.column, IncompleteOrder.id)
    here = tuple_(getattr(order, sort.column.key), order.id)
    ids = filtered(filters).with_only_columns(IncompleteOrder.id)

    def first(condition, ascending):
        columns = (sort.column, IncompleteOrder.id)
        ordering = [c.asc() for c in columns] if ascending else [c.desc() for c in columns]
        return db.session.scalar(ids.where(condition).order_by(*ordering).limit(1))

    if descending:
        previous_id, next_id = first(key > here, True), first(key < here, False)
    else:
        previous_id, next_id = first(key < here, False), first(key > here, True)
    return ListPosition(list_args, previous_id, next_id)
