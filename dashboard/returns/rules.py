"""Who may return what, defined once, each rule with the sentence the customer reads.

The API's 422 answer, the storefront's "returnable" read, the staff's sentence per line
and a manager's override all come from here, so what Reclaim refuses and what it says
about it cannot drift apart.

Settings (read when used, with these defaults):
    RETURN_WINDOW_DAYS  30         days a customer has to ask
    RETURN_WINDOW_FROM  delivery   "delivery": from the delivery when the storefront reported
                                   it, else from the order; "order": always from the order
    FINAL_SALE_SKUS     (none)     SKUs sold as final sale, comma-separated; a trailing *
                                   matches a prefix (GIFT-*)
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from flask import current_app
from sqlalchemy import case, func, select

from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.returns.models import (
    CLOSED_WITHOUT_RETURN,
    REASON_LABELS,
    ReturnLine,
    ReturnRequest,
)
from dashboard.timeutil import utcnow

WINDOW_FROM = ("delivery", "order")
# The shop's fault: a refund without sending the item back is allowed, and no fees apply.
SHOP_AT_FAULT = ("damaged", "wrong_item", "not_as_described")


@dataclass(frozen=True)
class Rule:
    code: str
    summary: str  # what the rule is, in staff's words
    overridable: bool  # a manager may let a request through it, with a note


RULES = {
    rule.code: rule
    for rule in (
        Rule("not_in_order", "The item is not in the order", False),
        Rule("listed_twice", "An item is listed twice", False),
        Rule("more_than_bought", "More than was bought (counting other open requests)", False),
        Rule("final_sale", "Sold as final sale", True),
        Rule("outside_window", "Outside the return window", True),
        Rule(
            "refund_needs_fault",
            "A refund without return only for damaged, wrong or not-as-described items",
            True,
        ),
        Rule("comment_required", "Reason “Other” needs a comment", False),
    )
}
OVERRIDABLE = tuple(code for code, rule in RULES.items() if rule.overridable)


@dataclass(frozen=True)
class Refusal:
    """A rule a line breaks: which, the request field to change, and the customer's sentence."""

    rule: str
    field: str
    message: str
    line: int | None = None  # the index of the request's line it is about

    @property
    def overridable(self):
        return RULES[self.rule].overridable


@dataclass(frozen=True)
class ReturnSettings:
    window_days: int
    window_from: str
    final_sale_skus: tuple

    @classmethod
    def from_config(cls):
        config = current_app.config
        window_from = str(config.get("RETURN_WINDOW_FROM", "delivery")).strip().lower()
        if window_from not in WINDOW_FROM:
            raise ValueError(
                f"RETURN_WINDOW_FROM must be 'delivery' or 'order', not {window_from!r}."
            )
        return cls(
            window_days=int(config.get("RETURN_WINDOW_DAYS", 30)),
            window_from=window_from,
            final_sale_skus=_sku_list(config.get("FINAL_SALE_SKUS", ())),
        )

    def is_final_sale(self, sku):
        return any(
            fnmatchcase(sku, pattern) if "*" in pattern else sku == pattern
            for pattern in self.final_sale_skus
        )


def _sku_list(value):
    if isinstance(value, str):
        value = value.split(",")
    return tuple(sku.strip() for sku in value or () if sku and sku.strip())


def _day(value):
    return shop_time(value, "%d %b %Y")


@dataclass(frozen=True)
class Window:
    """When an order's return window opened and ends, and what it counts from."""

    counts_from: str  # "delivery" | "order"
    started_at: datetime
    ends_at: datetime
    days: int
    delivery_unknown: bool  # counted from the order only because delivery is not known

    def is_open(self, now):
        return now <= self.ends_at

    @property
    def since(self):
        if self.counts_from == "delivery":
            return f"it was delivered on {_day(self.started_at)}"
        return f"it was ordered on {_day(self.started_at)}"

    def closed_sentence(self, order_number):
        return (
            f"The return window for order {order_number} ended on {_day(self.ends_at)}, "
            f"{self.days} days after {self.since}."
        )

    def open_sentence(self):
        return (
            f"Returns are possible until {_day(self.ends_at)}, {self.days} days after {self.since}."
        )


def return_window(order, settings):
    from_delivery = settings.window_from == "delivery" and order.delivered_at is not None
    started = order.delivered_at if from_delivery else order.placed_at
    return Window(
        counts_from="delivery" if from_delivery else "order",
        started_at=started,
        ends_at=started + timedelta(days=settings.window_days),
        days=settings.window_days,
        delivery_unknown=settings.window_from == "delivery" and order.delivered_at is None,
    )


def held_quantities(order_id, exclude_request_id=None):
    """How many of each order line other requests hold: {order item id: quantity}.

    A request holds what was approved once decided, else what was asked for; rejected and
    cancelled requests hold nothing.
    """
    held = func.sum(
        case(
            (ReturnLine.quantity_approved.is_not(None), ReturnLine.quantity_approved),
            else_=ReturnLine.quantity_requested,
        )
    )
    stmt = (
        select(ReturnLine.order_item_id, held)
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_request_id)
        .where(
            ReturnRequest.order_id == order_id,
            ReturnRequest.status.not_in(CLOSED_WITHOUT_RETURN),
        )
        .group_by(ReturnLine.order_item_id)
    )
    if exclude_request_id is not None:
        stmt = stmt.where(ReturnRequest.id != exclude_request_id)
    return {item_id: int(quantity) for item_id, quantity in db.session.execute(stmt)}


def _quantity_sentence(item, held, most):
    name = f"“{item.name}”"
    if held and most == 0:
        return f"All {item.quantity} of {name} are already in another return request."
    if held:
        return (
            f"You bought {item.quantity} of {name} and {held} "
            f"{'is' if held == 1 else 'are'} already in another return request, so at most "
            f"{most} can be returned."
        )
    return f"You bought {item.quantity} of {name}, so at most {item.quantity} can be returned."


@dataclass(frozen=True)
class LineReturnability:
    """One order line: how many may still be returned and, if none, why."""

    item: object  # OrderItem
    bought: int
    held: int  # in other requests that were not rejected or cancelled
    returnable: int
    final_sale: bool
    reason: str | None  # the customer's sentence when nothing may be returned


@dataclass(frozen=True)
class Returnability:
    order: object
    window: Window
    window_open: bool
    lines: tuple


def returnability(order, *, now=None, settings=None, exclude_request_id=None):
    """For each of the order's lines, how many may still be returned, or why none."""
    now = now or utcnow()
    settings = settings or ReturnSettings.from_config()
    window = return_window(order, settings)
    is_open = window.is_open(now)
    held = held_quantities(order.id, exclude_request_id) if order.id is not None else {}
    lines = []
    for item in order.items:
        in_requests = held.get(item.id, 0)
        remaining = max(item.quantity - in_requests, 0)
        final_sale = settings.is_final_sale(item.sku)
        reason = None
        if not is_open:
            reason = window.closed_sentence(order.number)
        elif final_sale:
            reason = _final_sale_sentence(item)
        elif remaining == 0:
            reason = _quantity_sentence(item, in_requests, 0)
        lines.append(
            LineReturnability(
                item=item,
                bought=item.quantity,
                held=in_requests,
                returnable=0 if reason else remaining,
                final_sale=final_sale,
                reason=reason,
            )
        )
    return Returnability(order, window, is_open, tuple(lines))


def _final_sale_sentence(item):
    return f"“{item.name}” was sold as final sale and cannot be returned."


@dataclass
class DraftLine:
    """One line of a request as the customer sends it."""

    sku: str
    quantity: int
    reason: str | None = None  # the request's, when not given
    comment: str | None = None


@dataclass
class ReturnDraft:
    """A return request as the customer sends it, before any rule has looked at it."""

    order_number: str
    email: str
    type: str
    reason: str
    comment: str | None = None
    items: list = field(default_factory=list)  # DraftLine


@dataclass(frozen=True)
class Claim:
    """A quantity of one order line that a request asks for, with its reason."""

    item: object  # OrderItem
    quantity: int
    reason: str
    comment: str | None
    draft_index: int


@dataclass(frozen=True)
class Checked:
    claims: tuple
    refusals: tuple  # Refusal, in the order of the request's lines
    overridden: tuple  # Refusal a manager's override let through

    def overridden_for(self, line):
        """The codes of the rules overridden for the request's line `line` (its index)."""
        return tuple(sorted({r.rule for r in self.overridden if r.line == line}))

    def refusals_for(self, line):
        return [r for r in self.refusals if r.line == line]

    @property
    def fields(self):
        """{field: sentence} for the API's 422, the first refusal per field."""
        fields = {}
        for refusal in self.refusals:
            fields.setdefault(refusal.field, refusal.message)
        return fields


def check_request(order, draft, *, now=None, settings=None, overrides=()):
    """Match the draft's lines to the order's and apply every rule.

    Returns Checked: the claims (order line, quantity, reason), the refusals that stand,
    and those `overrides` let through: {line index: rule codes} a manager waived for that
    line of the draft, or rule codes for every line (only rules that may be overridden
    are). A SKU on several order
    lines (bought at different prices) fills them in order.
    """
    now = now or utcnow()
    settings = settings or ReturnSettings.from_config()
    window = return_window(order, settings)
    window_open = window.is_open(now)
    held = held_quantities(order.id) if order.id is not None else {}
    by_sku = defaultdict(list)
    for item in order.items:
        by_sku[item.sku].append(item)

    claims, refusals = [], []
    seen = set()
    for index, line in enumerate(draft.items):
        prefix = f"items.{index}"
        reason = line.reason or draft.reason
        comment = (line.comment or "").strip() or (draft.comment or "").strip() or None
        items = by_sku.get(line.sku)
        if not items:
            refusals.append(
                Refusal(
                    "not_in_order",
                    f"{prefix}.sku",
                    f"Order {order.number} has no item with SKU {line.sku}.",
                    index,
                )
            )
            continue
        if line.sku in seen:
            refusals.append(
                Refusal(
                    "listed_twice",
                    f"{prefix}.sku",
                    f"SKU {line.sku} is listed more than once; send it once with the "
                    "whole quantity.",
                    index,
                )
            )
            continue
        seen.add(line.sku)
        if not window_open:
            refusals.append(
                Refusal(
                    "outside_window",
                    f"{prefix}.sku",
                    window.closed_sentence(order.number),
                    index,
                )
            )
        if settings.is_final_sale(line.sku):
            refusals.append(
                Refusal("final_sale", f"{prefix}.sku", _final_sale_sentence(items[0]), index)
            )
        if draft.type == "refund" and reason not in SHOP_AT_FAULT:
            refusals.append(
                Refusal(
                    "refund_needs_fault",
                    f"{prefix}.reason",
                    f"A refund without sending “{items[0].name}” back is only possible when it "
                    "arrived damaged, was the wrong item or was not as described; ask for a "
                    "return instead.",
                    index,
                )
            )
        if reason == "other" and not comment:
            refusals.append(
                Refusal(
                    "comment_required",
                    f"{prefix}.comment",
                    f"Tell us in a comment what is wrong when the reason is "
                    f"“{REASON_LABELS['other']}”.",
                    index,
                )
            )
        wanted = line.quantity
        bought = sum(item.quantity for item in items)
        in_requests = sum(held.get(item.id, 0) for item in items)
        most = max(bought - in_requests, 0)
        if wanted > most:
            first = items[0]
            summary = first if len(items) == 1 else _Combined(first.name, bought)
            refusals.append(
                Refusal(
                    "more_than_bought",
                    f"{prefix}.quantity",
                    _quantity_sentence(summary, in_requests, most),
                    index,
                )
            )
            continue
        for item in items:
            take = min(wanted, max(item.quantity - held.get(item.id, 0), 0))
            if take:
                claims.append(Claim(item, take, reason, line.comment, index))
                wanted -= take

    # Only rules a manager may waive are waived, whatever is asked.
    if not isinstance(overrides, dict):  # rule codes for every line
        overrides = dict.fromkeys(range(len(draft.items)), overrides)
    overrides = {line: set(codes) & set(OVERRIDABLE) for line, codes in overrides.items()}

    def waived(refusal):
        return refusal.rule in overrides.get(refusal.line, ())

    standing = tuple(r for r in refusals if not waived(r))
    return Checked(tuple(claims), standing, tuple(r for r in refusals if waived(r)))


@dataclass(frozen=True)
class _Combined:
    """A SKU bought on several lines, as one for the sentence about quantities."""

    name: str
    quantity: int


# Clocks: when a decision is due, and by when an approved return should be back.
#     RETURN_DECISION_SLA_HOURS  48  a pending request is due a decision this long after it came
#     RETURN_SHIP_BY_DAYS        14  an approved return is overdue when not received by then


def decision_sla():
    return timedelta(hours=int(current_app.config.get("RETURN_DECISION_SLA_HOURS", 48)))


def ship_by_days():
    return int(current_app.config.get("RETURN_SHIP_BY_DAYS", 14))


def decision_due_at(request):
    return request.submitted_at + decision_sla()


def ship_by_for(approved_at):
    return approved_at + timedelta(days=ship_by_days())
