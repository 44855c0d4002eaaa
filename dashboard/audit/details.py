"""An audit event's details in words: "payment received: no", not "payment_received False".

Each detail becomes (label, text). Keys read as words; yes/no for booleans; times in the
shop's zone; amounts as money; a before/after pair as one change ("role: agent → viewer").
An action whose details need more than that has a formatter in DETAIL_FORMATTERS.
"""

import re
from datetime import datetime

from dashboard.formatting import money, shop_time
from dashboard.money import shop_currency

# Keys whose plain words would mislead or read badly.
KEY_WORDS = {
    "payment_received": "payment received",
    "order_number": "order",
    "incomplete_order_id": "from cart",
    "requested_by": "asked by",
    "replaced_temporary": "replaced a temporary password",
    "by_customer": "by the customer",
    "overridden_rules": "rules overridden",
    "quiet_days": "quiet for days",
    "retention_days": "kept for days",
    "prefix": "key starts with",
    "computed": "computed refund",
}
# Left out: said better by another detail of the same event, or by the Record column.
HIDDEN_KEYS = {"order_id"}
MONEY_KEYS = {"subtotal", "total", "amount", "computed", "refund", "value"}

_IDENTIFIER = re.compile(r"[a-z]+(?:_[a-z]+)+")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def key_words(key):
    if key in KEY_WORDS:
        return KEY_WORDS[key]
    if key.endswith("_id"):
        return key.removesuffix("_id").replace("_", " ")
    return key.replace("_", " ")


def value_words(value, key=None, currency=None):
    """One value as staff read it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        if key in MONEY_KEYS:
            return money(value, currency or shop_currency())
        if key and key.endswith("_id"):
            return f"#{value}"
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,}"
    if isinstance(value, str):
        if _TIMESTAMP.match(value):
            try:
                return shop_time(datetime.fromisoformat(value))
            except ValueError:
                return value
        if _IDENTIFIER.fullmatch(value):  # a stage, a reason, a status
            return value.replace("_", " ")
        return value
    if isinstance(value, dict):  # keyed by SKU or by name: the keys stay as written
        if not value:
            return "none"
        return "; ".join(f"{k}: {value_words(v, currency=currency)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if all(isinstance(item, list | tuple) for item in value):
            return "; ".join(
                " ".join(value_words(part, currency=currency) for part in item) for item in value
            )
        return ", ".join(value_words(item, key, currency) for item in value)
    return str(value)


def _change(details, what, currency):
    before = value_words(details.pop("before"), currency=currency)
    after = value_words(details.pop("after"), currency=currency)
    return (what, f"{before} → {after}")


def generic(details):
    details = dict(details)
    currency = details.pop("currency", None)
    words = []
    if "before" in details and "after" in details:
        words.append(_change(details, "changed", currency))
    for key, value in details.items():
        if key in HIDDEN_KEYS:
            continue
        words.append((key_words(key), value_words(value, key, currency)))
    if currency:
        words.append(("currency", currency))
    return words


def _before_after(what):
    def format_details(details):
        details = dict(details)
        first = []
        if "before" in details and "after" in details:
            first.append(_change(details, what, details.get("currency")))
        return first + generic(details)

    return format_details


DETAIL_FORMATTERS = {
    "staff.change_role": _before_after("role"),
    "order.delivered": _before_after("delivered"),
}


def detail_words(event):
    """[(label, text)] for an AuditEvent's details."""
    details = event.details
    if not isinstance(details, dict):
        return [("details", value_words(details))]
    if event.record_id is None and event.record_type:
        # One event for many records: the Record column says how many.
        details = {k: v for k, v in details.items() if k != "count"}
    formatter = DETAIL_FORMATTERS.get(event.action, generic)
    return formatter(details)


def records_count(event):
    """How many records an event without one record id names (a bulk change, a purge)."""
    count = event.details.get("count") if isinstance(event.details, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else event.target_count
