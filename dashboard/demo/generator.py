"""Realistic, deterministic demo data, written in bulk (a million carts in minutes).

Carts spread over six months with a daily rhythm (evening peak) and a weekly one
(busier weekends); stages, statuses, guests and registered customers, 1–6 items.
The same --seed on the same day gives the same rows.
"""

import random
from datetime import UTC, datetime, timedelta

FIRST_NAMES = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elif",
    "Finn",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katja",
    "Leon",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Uwe",
    "Vera",
    "Wim",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Amir",
    "Beatriz",
    "Chen",
    "Dara",
)
LAST_NAMES = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Braun",
    "Zimmermann",
    "Hartmann",
    "Lange",
    "Krause",
    "Lehmann",
    "Köhler",
    "Walter",
    "Kaya",
    "Novak",
    "Rossi",
    "Silva",
    "Jansen",
    "Dubois",
    "Nguyen",
)
DOMAINS = ("example.com", "mail.example", "post.example", "inbox.example", "web.example")
PRODUCTS = [
    (f"{kind[:3].upper()}-{colour[:3].upper()}-{size}", f"{kind} — {colour} / {size}", price)
    for kind, price in (
        ("Merino crew sweater", 8900),
        ("Linen shirt", 5900),
        ("Chino trousers", 7400),
        ("Canvas sneakers", 6500),
        ("Rain jacket", 14900),
        ("Wool beanie", 2400),
        ("Leather belt", 3900),
        ("Cotton T-shirt", 1900),
        ("Denim jacket", 11900),
        ("Running shorts", 3400),
    )
    for colour in ("Navy", "Black", "Olive", "Sand")
    for size in ("S", "M", "L")
]
STAGE_WEIGHTS = (("cart", 45), ("checkout", 30), ("payment_pending", 15), ("payment_failed", 10))
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 8, 9, 8, 7, 7, 8, 9, 11, 13, 14, 12, 7, 3)
WEEKDAY_WEIGHTS = (9, 9, 9, 10, 11, 14, 14)
DAYS = 180  # the default span of the carts, ending today
STEP_DELAYS = (timedelta(hours=1), timedelta(hours=24), timedelta(hours=72))


def _anchor():
    """Midnight UTC today: data is relative to the day it is seeded on."""
    return datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)


class DemoGenerator:
    """Carts in the order they arrive: ids follow creation time, as in a real shop."""

    def __init__(
        self,
        seed,
        count,
        first_id=1,
        first_order_id=1,
        currency="EUR",
        first_order_item_id=1,
        first_return_id=1,
        days=DAYS,
        subjects=None,
    ):
        self.rng = random.Random(seed)
        # Each recovery step's subject, as its email says it (emails/recovery_subject.txt).
        self.subjects = subjects or {}
        self.next_id = first_id
        self.next_order_id = first_order_id
        self.next_order_item_id = first_order_item_id
        self.currency = currency
        self.now = _anchor()
        self.returns = DemoReturns(seed, self.now, first_return_id)
        start = self.now - timedelta(days=days)
        self.days = [start + timedelta(days=d) for d in range(days)]
        self.day_weights = [WEEKDAY_WEIGHTS[d.weekday()] for d in self.days]
        stages, weights = zip(*STAGE_WEIGHTS, strict=True)
        self.stages, self.stage_weights = stages, weights
        # Seconds after the first day at which each cart starts, in arrival order.
        self.starts = iter(sorted(self._offset() for _ in range(count)))

    def _offset(self):
        rng = self.rng
        day = rng.choices(range(len(self.days)), self.day_weights)[0]
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        return ((day * 24 + hour) * 60 + rng.randrange(60)) * 60 + rng.randrange(60)

    def batch(self, size):
        """(incomplete_orders, items, orders, order_items, recovery_attempts, outbox) rows
        for `size` carts; each recovery email sent is an attempt and its outbox message."""
        rng = self.rng
        carts, items, orders, order_items, recovery_attempts = [], [], [], [], []
        recovery_emails = []
        for _ in range(size):
            oid = self.next_id
            self.next_id += 1
            created = self.days[0] + timedelta(seconds=next(self.starts))
            last = created + timedelta(minutes=rng.choice((0, 2, 5, 15, 45, 180, 1440)))
            if last > self.now:
                last = created
            stage = rng.choices(self.stages, self.stage_weights)[0]
            registered = rng.random() < 0.4
            first, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            has_contact = registered or stage != "cart" or rng.random() < 0.3
            email = (
                f"{first}.{last_name}{rng.randrange(1, 9999)}@{rng.choice(DOMAINS)}".lower()
                .replace("ü", "ue")
                .replace("ö", "oe")
                if has_contact
                else None
            )
            name = f"{first} {last_name}" if has_contact and rng.random() < 0.9 else None
            phone = (
                f"+49 1{rng.randrange(50, 79)} {rng.randrange(1000000, 9999999)}"
                if (has_contact and stage != "cart" and rng.random() < 0.6)
                else None
            )
            lines = []
            for product in rng.sample(
                PRODUCTS, rng.choices((1, 2, 3, 4, 5, 6), (30, 28, 18, 12, 7, 5))[0]
            ):
                lines.append(
                    (product[0], product[1], rng.choices((1, 2, 3), (80, 15, 5))[0], product[2])
                )
            subtotal = sum(q * p for _, _, q, p in lines)
            age_days = (self.now - last).days
            roll = rng.random()
            attempts = 0
            if email and roll < 0.11:
                status = "converted"
            elif roll < 0.16:
                status = "cancelled"
            elif age_days > 30 and roll < 0.8:
                status = "expired"
            else:
                status = "open"
            if email and status != "cancelled" and (self.now - last) > timedelta(hours=1):
                attempts = rng.choices((0, 1, 2, 3), (25, 35, 25, 15))[0]
            changed = last + timedelta(hours=rng.randrange(1, 72)) if status != "open" else created
            if changed > self.now:
                changed = self.now
            # Recovery emails already sent, each at its step's delay, before the cart closed.
            until = self.now if status == "open" else changed
            sends = [last + delay for delay in STEP_DELAYS[:attempts] if last + delay <= until]
            attempts = len(sends)
            for step, sent_at in enumerate(sends, 1):
                clicked = (
                    sent_at + timedelta(minutes=rng.randrange(5, 600))
                    if rng.random() < 0.2
                    else None
                )
                recovery_attempts.append(
                    (oid, step, sent_at, clicked if clicked and clicked <= until else None)
                )
                # Delivered a few seconds after it was queued (no draw from rng: the rest of
                # the data stays what the seed made it before the outbox was seeded).
                went_out = sent_at + timedelta(seconds=5 + (oid * 7 + step) % 85)
                recovery_emails.append(
                    (
                        "recovery",
                        f"recovery:{oid}:{step}",
                        email,
                        self.subjects.get(step),
                        "{}",
                        "sent",
                        1,
                        sent_at,
                        went_out,
                        sent_at,
                        "incomplete_order",
                        oid,
                    )
                )
            carts.append(
                (
                    oid,
                    f"cart_{oid:08d}",
                    f"C{rng.randrange(10000, 99999)}" if registered else None,
                    None if registered else f"{rng.getrandbits(64):016x}",
                    email,
                    phone,
                    name,
                    stage,
                    status,
                    self.currency,
                    subtotal,
                    sum(q for _, _, q, _ in lines),
                    attempts,
                    created,
                    last,
                    last,
                    changed,
                    sends[-1] if sends else None,
                )
            )
            items.extend((oid, sku, pname, q, p) for sku, pname, q, p in lines)
            if status == "converted":
                order_id = self.next_order_id
                self.next_order_id += 1
                staff_made = rng.random() < 0.2
                order_lines = []
                for sku, pname, q, p in lines:
                    order_lines.append((self.next_order_item_id, order_id, sku, pname, q, p))
                    self.next_order_item_id += 1
                delivered, refunded = self.returns.delivery_and_return(
                    order_id, email, self.currency, changed, order_lines
                )
                orders.append(
                    (
                        order_id,
                        f"RC-{oid:07d}" if staff_made else f"{100000 + order_id}",
                        "staff" if staff_made else "storefront",
                        oid,
                        carts[-1][2],
                        email,
                        name,
                        phone,
                        self.currency,
                        subtotal,
                        True,
                        changed,
                        changed,
                        attempts or None,
                        delivered,
                        refunded,
                    )
                )
                order_items.extend(order_lines)
        recovery_emails.sort(key=lambda row: row[_OUTBOX_QUEUED_AT])  # their ids follow time
        return carts, items, orders, order_items, recovery_attempts, recovery_emails


CART_COLUMNS = (
    "id",
    "cart_id",
    "customer_id",
    "guest_session",
    "email",
    "phone",
    "name",
    "stage",
    "status",
    "currency",
    "subtotal",
    "item_count",
    "recovery_attempts",
    "created_at",
    "updated_at",
    "last_activity_at",
    "status_changed_at",
    "recovery_last_sent_at",
)
ITEM_COLUMNS = ("incomplete_order_id", "sku", "name", "quantity", "unit_price")
ORDER_COLUMNS = (
    "id",
    "number",
    "source",
    "incomplete_order_id",
    "customer_id",
    "email",
    "name",
    "phone",
    "currency",
    "total",
    "payment_received",
    "placed_at",
    "created_at",
    "recovered_step",
    "delivered_at",
    "refunded_total",
)
ORDER_ITEM_COLUMNS = ("id", "order_id", "sku", "name", "quantity", "unit_price")
ATTEMPT_COLUMNS = ("incomplete_order_id", "step", "sent_at", "clicked_at")
# What was sent is not kept for the demo's history (its content is written when a message
# goes out, and these went out before the demo began): the outbox says so on their pages.
OUTBOX_COLUMNS = (
    "kind",
    "dedupe_key",
    "to_email",
    "subject",
    "headers_json",
    "status",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "created_at",
    "record_type",
    "record_id",
)
_OUTBOX_QUEUED_AT = OUTBOX_COLUMNS.index("created_at")


# --- return requests ------------------------------------------------------------------
# About one order in twenty comes back, asked for a while after delivery; how far each got
# depends on how long ago that was (a few are left waiting: the desk's overdue ones).

RETURN_SHARE = 0.05
RETURN_TYPES = (("return", 70), ("exchange", 15), ("refund", 15))
RETURN_REASONS = (
    ("size_or_fit", 34),
    ("changed_mind", 15),
    ("damaged", 12),
    ("not_as_described", 12),
    ("wrong_item", 8),
    ("late_delivery", 9),
    ("other", 10),
)
SHOP_AT_FAULT = ("damaged", "wrong_item", "not_as_described")
CUSTOMER_COMMENTS = {
    "size_or_fit": ("Too small around the shoulders.", "Runs large, need a size down.", None),
    "changed_mind": ("Not what I expected in person.", None),
    "damaged": ("Seam torn on arrival.", "Box was crushed, item scratched.", "Stain on the front."),
    "not_as_described": ("Colour is much darker than the photos.", "Material feels different."),
    "wrong_item": ("Received a different colour.", "Wrong size in the parcel."),
    "late_delivery": ("Arrived after the event I needed it for.", None),
    "other": ("Bought two by mistake.", "Gift, the recipient already has one."),
}
AGENTS = ("ana@shop.example", "ben@shop.example", "chris@shop.example")
APPROVE_NOTES = (
    None,
    "Please use the prepaid label in the parcel.",
    "Thanks for letting us know. Pack the items in their original bag if you still have it.",
)
REJECT_NOTES = (
    ("outside_policy", "This item was worn and washed, so we cannot take it back."),
    ("used_or_worn", "The shoes show clear signs of wear outdoors."),
    ("no_proof", "We could not see the damage on the photos; reply with a closer photo."),
    ("duplicate", "You already have an open request for these items."),
)
INTERNAL_NOTES = (
    "Customer called, confirmed the size problem.",
    "Photos received by email: damage is real.",
    "Repeat returner, checked previous requests: all fine.",
    "Asked the warehouse to check the batch for the same fault.",
)

RETURN_COLUMNS = (
    "id",
    "number",
    "order_id",
    "email",
    "type",
    "reason",
    "comment",
    "status",
    "currency",
    "units_requested",
    "value_requested",
    "submitted_at",
    "submitted_by",
    "decided_at",
    "decided_by",
    "ship_by_at",
    "received_at",
    "received_by",
    "receipt_note",
    "completed_at",
    "completed_by",
    "cancelled_at",
    "cancelled_by",
    "customer_note",
    "rejection_reason",
    "refund_amount",
    "refund_computed",
    "refund_method",
    "refund_reference",
)
RETURN_LINE_COLUMNS = (
    "return_request_id",
    "order_item_id",
    "sku",
    "name",
    "quantity_requested",
    "quantity_approved",
    "quantity_received",
    "quantity_damaged",
    "reason",
)
RETURN_EVENT_COLUMNS = (
    "return_request_id",
    "event",
    "created_at",
    "actor_type",
    "actor_label",
    "note",
)
RETURN_NOTE_COLUMNS = ("return_request_id", "body", "created_at")


class DemoReturns:
    """Return requests for the demo's orders, with their own random stream, so the carts
    and orders stay the same whatever this part draws."""

    def __init__(self, seed, now, first_id=1):
        self.rng = random.Random(f"{seed}:returns")
        self.now = now
        self.next_id = first_id
        self.requests, self.lines, self.events, self.notes = [], [], [], []

    def take(self):
        rows = self.requests, self.lines, self.events, self.notes
        self.requests, self.lines, self.events, self.notes = [], [], [], []
        return rows

    def delivery_and_return(self, order_id, email, currency, placed_at, order_lines):
        """When the order was delivered (None: not yet), and what was refunded on it."""
        delivered = placed_at + timedelta(minutes=self.rng.randrange(20 * 60, 5 * 24 * 60))
        if delivered > self.now:
            return None, 0
        items = [(item_id, sku, name, q, p) for item_id, _, sku, name, q, p in order_lines]
        refunded = self.for_order(order_id, email, currency, delivered, items)
        return delivered, refunded or 0

    def for_order(self, order_id, email, currency, delivered_at, items):
        """Maybe a request about the order; `items` are (order item id, sku, name, qty, price).
        Returns what it refunded on the order."""
        rng, now = self.rng, self.now
        if rng.random() >= RETURN_SHARE:
            return 0
        submitted = delivered_at + timedelta(minutes=rng.randrange(6 * 60, 28 * 24 * 60))
        if submitted > now:
            return 0
        kind = rng.choices(*zip(*RETURN_TYPES, strict=True))[0]
        reason = rng.choices(*zip(*RETURN_REASONS, strict=True))[0]
        if kind == "refund" and reason not in SHOP_AT_FAULT:
            reason = rng.choice(SHOP_AT_FAULT)
        comment = rng.choice(CUSTOMER_COMMENTS[reason])
        chosen = rng.sample(items, min(rng.choices((1, 2, 3), (70, 22, 8))[0], len(items)))
        request_id = self.next_id
        self.next_id += 1
        lines = [[item, rng.randint(1, item[3]), None, None, None] for item in chosen]
        status, stamps = self._progress(submitted, kind)
        decided_at, decided_by = stamps.get("decided", (None, None))
        approved = status in ("approved", "received", "completed") or (
            status == "cancelled" and decided_at
        )
        for line in lines:
            if approved:
                # Now and then staff approve one fewer than asked.
                line[2] = line[1] - 1 if line[1] > 1 and rng.random() < 0.15 else line[1]
        received_at, received_by = stamps.get("received", (None, None))
        receipt_note = None
        if received_at:
            for line in lines:
                line[3], line[4] = line[2], 0
            line = lines[0]
            if rng.random() < 0.08 and line[2]:
                line[3] -= 1
                receipt_note = f"One {line[0][2]} was not in the parcel."
            elif rng.random() < 0.1 and line[3]:
                line[4] = 1
                receipt_note = "One item arrived damaged in transit."
        value = sum(item[4] * wanted for item, wanted, *_ in lines)
        refund_amount = computed = refund_method = reference = None
        completed_at, completed_by = stamps.get("completed", (None, None))
        if completed_at:
            counted = (lambda line: line[2]) if kind == "refund" else (lambda line: line[3])
            refund_amount = computed = sum(line[0][4] * counted(line) for line in lines)
            if kind == "exchange" and rng.random() < 0.7:
                refund_method, refund_amount = "replacement", 0
            elif rng.random() < 0.8:
                refund_method, reference = "original_payment", f"re_{rng.getrandbits(48):012x}"
            else:
                refund_method = "store_credit"
        rejection_reason = customer_note = None
        if status == "rejected":
            rejection_reason, customer_note = rng.choice(REJECT_NOTES)
        elif approved:
            customer_note = rng.choice(APPROVE_NOTES)
        cancelled_at, cancelled_by = stamps.get("cancelled", (None, None))
        ship_by = decided_at + timedelta(days=14) if approved and kind != "refund" else None
        self.requests.append(
            (
                request_id,
                f"RMA-{request_id:06d}",
                order_id,
                email,
                kind,
                reason,
                comment,
                status,
                currency,
                sum(line[1] for line in lines),
                value,
                submitted,
                "Storefront",
                decided_at,
                decided_by,
                ship_by,
                received_at,
                received_by,
                receipt_note,
                completed_at,
                completed_by,
                cancelled_at,
                cancelled_by,
                customer_note,
                rejection_reason,
                refund_amount,
                computed,
                refund_method,
                reference,
            )
        )
        for item, wanted, approved_q, received_q, damaged_q in lines:
            self.lines.append(
                (
                    request_id,
                    item[0],
                    item[1],
                    item[2],
                    wanted,
                    approved_q,
                    received_q,
                    damaged_q,
                    reason,
                )
            )
        moves = [("submitted", submitted, "api_key", "Storefront", None)]
        if decided_at:
            event = "rejected" if status == "rejected" else "approved"
            moves.append((event, decided_at, "staff", decided_by, customer_note))
        if received_at:
            moves.append(("received", received_at, "staff", received_by, receipt_note))
        if completed_at:
            moves.append(("completed", completed_at, "staff", completed_by, None))
        if cancelled_at:
            by_customer = cancelled_by.startswith("the customer")
            moves.append(
                (
                    "cancelled",
                    cancelled_at,
                    "api_key" if by_customer else "staff",
                    "Storefront" if by_customer else cancelled_by,
                    None,
                )
            )
        self.events.extend((request_id, *move) for move in moves)
        if rng.random() < 0.2:
            at = min(submitted + timedelta(hours=rng.randrange(1, 30)), now)
            self.notes.append((request_id, rng.choice(INTERNAL_NOTES), at))
        return refund_amount if refund_method in ("original_payment", "store_credit") else 0

    def _progress(self, submitted, kind):
        """How far a request submitted then has got by now: (status, {move: (at, by)})."""
        rng, now = self.rng, self.now
        stamps = {}
        decided = submitted + timedelta(minutes=rng.randrange(60, 60 * 60))
        # The desk is behind on this month's requests: many still wait for a decision, some
        # well past the decision SLA (the desk's overdue ones). About one request in
        # fourteen is pending, so the queue the desk opens on has work in it.
        forgotten = rng.random() < 0.55 and now - submitted < timedelta(days=30)
        if decided > now or forgotten:
            if rng.random() < 0.05:
                at = min(submitted + timedelta(hours=rng.randrange(1, 24)), now)
                stamps["cancelled"] = (at, "the customer (through Storefront)")
                return "cancelled", stamps
            return "pending", stamps
        agent = rng.choice(AGENTS)
        stamps["decided"] = (decided, agent)
        if rng.random() < 0.12:
            return "rejected", stamps
        if kind == "refund":
            done = decided + timedelta(minutes=rng.randrange(10, 48 * 60))
            if done > now:
                return "approved", stamps
            stamps["completed"] = (done, agent)
            return "completed", stamps
        received = decided + timedelta(minutes=rng.randrange(2 * 24 * 60, 16 * 24 * 60))
        # Some parcels never come back: overdue, then (after a while) cancelled by staff.
        if received > now or rng.random() < 0.07:
            if now - decided > timedelta(days=30):
                stamps["cancelled"] = (decided + timedelta(days=rng.randrange(21, 28)), agent)
                return "cancelled", stamps
            return "approved", stamps
        stamps["received"] = (received, rng.choice(AGENTS))
        done = received + timedelta(minutes=rng.randrange(30, 4 * 24 * 60))
        # Receiving never waits on refunding: some parcels sit received for a while.
        waiting = rng.random() < 0.3 and now - received < timedelta(days=30)
        if done > now or waiting:
            return "received", stamps
        stamps["completed"] = (done, rng.choice(AGENTS))
        return "completed", stamps
