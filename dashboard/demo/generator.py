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
DAYS = 180
STEP_DELAYS = (timedelta(hours=1), timedelta(hours=24), timedelta(hours=72))


def _anchor():
    """Midnight UTC today: data is relative to the day it is seeded on."""
    return datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)


class DemoGenerator:
    """Carts in the order they arrive: ids follow creation time, as in a real shop."""

    def __init__(self, seed, count, first_id=1, first_order_id=1, currency="EUR"):
        self.rng = random.Random(seed)
        self.next_id = first_id
        self.next_order_id = first_order_id
        self.currency = currency
        self.now = _anchor()
        start = self.now - timedelta(days=DAYS)
        self.days = [start + timedelta(days=d) for d in range(DAYS)]
        self.day_weights = [WEEKDAY_WEIGHTS[d.weekday()] for d in self.days]
        stages, weights = zip(*STAGE_WEIGHTS, strict=True)
        self.stages, self.stage_weights = stages, weights
        # Seconds after the first day at which each cart starts, in arrival order.
        self.starts = iter(sorted(self._offset() for _ in range(count)))

    def _offset(self):
        rng = self.rng
        day = rng.choices(range(DAYS), self.day_weights)[0]
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        return ((day * 24 + hour) * 60 + rng.randrange(60)) * 60 + rng.randrange(60)

    def batch(self, size):
        """(incomplete_orders, items, orders, order_items) rows for `size` carts."""
        rng = self.rng
        carts, items, orders, order_items, recovery_attempts = [], [], [], [], []
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
                    )
                )
                order_items.extend((order_id, sku, pname, q, p) for sku, pname, q, p in lines)
        return carts, items, orders, order_items, recovery_attempts


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
)
ORDER_ITEM_COLUMNS = ("order_id", "sku", "name", "quantity", "unit_price")
ATTEMPT_COLUMNS = ("incomplete_order_id", "step", "sent_at", "clicked_at")
