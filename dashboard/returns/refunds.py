"""THE refund computation: one function behind the API's estimate, the request's page and
the amount recorded at completion.

    prices actually paid × approved quantities (returns and exchanges: received ones)
    − restocking fee (RESTOCKING_FEE_PERCENT of the items returned by the customer's choice)
    − return shipping fee (RETURN_SHIPPING_FEE, when nothing in the parcel is the shop's fault)
    capped at what remains refundable on the order, never negative, integer minor units.

Both fees are waived for items that arrived damaged, were the wrong item or were not as
described (rules.SHOP_AT_FAULT). A refund request (nothing sent back) pays no return
shipping.

What a line cost is the storefront's `paid_total` when it sent one. Otherwise the order's
total, less shipping, is compared with the lines' list prices: a difference (an
order-level discount, or a surcharge once shipping is known) is spread over the lines in
proportion to their prices by largest remainder, so the shares add up to the cent, and the
refund says it is an estimate. A total above the list prices with no shipping total is
taken to be shipping and not refunded (also an estimate).

Settings (read when used, with these defaults):
    RESTOCKING_FEE_PERCENT  0   percent of the items' value; decimals allowed (12.5)
    RETURN_SHIPPING_FEE     0   minor units in the shop's currency (SHOP_CURRENCY); or
                                per currency, "EUR:495,JPY:800"
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app

from dashboard.formatting import money
from dashboard.returns.models import MONEY_METHODS, REASON_LABELS
from dashboard.returns.rules import SHOP_AT_FAULT


@dataclass(frozen=True)
class RefundSettings:
    restocking_percent: Decimal
    return_shipping_fee: int  # minor units of the order's currency

    @classmethod
    def from_config(cls, currency):
        config = current_app.config
        return cls(
            restocking_percent=Decimal(str(config.get("RESTOCKING_FEE_PERCENT", 0) or 0)),
            return_shipping_fee=_fee_for(
                config.get("RETURN_SHIPPING_FEE", 0), currency, config.get("SHOP_CURRENCY")
            ),
        )


def _fee_for(setting, currency, shop_currency):
    if isinstance(setting, str) and ":" in setting:
        setting = dict(part.split(":", 1) for part in setting.split(",") if part.strip())
    if isinstance(setting, dict):
        fees = {code.strip().upper(): int(str(fee).strip()) for code, fee in setting.items()}
        return fees.get(currency, 0)
    # A plain amount is in the shop's own currency: never charged in another one as if
    # it were the same number of cents.
    if shop_currency and currency != shop_currency:
        return 0
    return int(setting or 0)


@dataclass(frozen=True)
class Claimed:
    """A quantity of one order line to refund, with the reason it comes back."""

    item: object  # OrderItem: quantity, unit_price, paid_total, sku, name
    quantity: int
    reason: str


@dataclass(frozen=True)
class RefundLine:
    sku: str
    name: str
    quantity: int
    bought: int
    line_paid: int  # what the whole order line cost
    amount: int  # for `quantity` of them
    reason: str
    fee_waived: bool


@dataclass(frozen=True)
class Refund:
    currency: str
    basis: str  # requested | approved | received: which quantities it counts
    lines: tuple
    items_total: int
    restocking_fee: int
    return_shipping_fee: int
    remaining: int  # what was still refundable on the order before this refund
    amount: int
    capped: bool
    estimate: bool  # line prices inferred from the order's total
    explanations: tuple  # sentences, for staff and the customer

    @property
    def fees(self):
        return self.restocking_fee + self.return_shipping_fee


def paid_line_totals(order):
    """What each of the order's lines cost ([minor units] in order.items order), whether
    that is an estimate, and the sentence that says how it was worked out."""
    items = list(order.items)
    given = [item.paid_total for item in items]
    if all(value is not None for value in given):
        return given, False, None
    list_totals = [item.quantity * item.unit_price for item in items]
    open_lines = [i for i, value in enumerate(given) if value is None]
    known = sum(value for value in given if value is not None)
    goods = max(order.total - (order.shipping_total or 0), 0)
    weights = [list_totals[i] for i in open_lines]
    difference = goods - known - sum(weights)
    paid = [value if value is not None else list_totals[i] for i, value in enumerate(given)]
    currency = order.currency
    if difference == 0 or sum(weights) == 0:
        return paid, False, None
    if difference > 0 and order.shipping_total is None:
        return (
            paid,
            True,
            f"The order's total is {money(difference, currency)} more than its items; without "
            "a shipping total from the storefront that is taken to be shipping, which is not "
            "refunded.",
        )
    shares = largest_remainder(abs(difference), weights)
    sign = 1 if difference > 0 else -1
    for line, share in zip(open_lines, shares, strict=True):
        paid[line] += sign * share
    what = "discount" if difference < 0 else "surcharge"
    return (
        paid,
        True,
        f"The storefront did not say what each item cost, so the order's {what} of "
        f"{money(abs(difference), currency)} is spread over its items in proportion to "
        "their prices.",
    )


def largest_remainder(amount, weights):
    """Split a non-negative integer `amount` in proportion to `weights`; the shares add up
    to `amount` exactly (the units left after rounding down go to the largest remainders,
    the earlier line first on a tie)."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    shares, remainders = [], []
    for weight in weights:
        share, remainder = divmod(amount * weight, total)
        shares.append(share)
        remainders.append(remainder)
    left = amount - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: -remainders[i])[:left]:
        shares[index] += 1
    return shares


def _percent_of(amount, percent):
    fee = Decimal(amount) * percent / 100
    return int(fee.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def compute_refund(
    order,
    claims,
    *,
    request_type="return",
    already_refunded=None,
    basis="approved",
    settings=None,
):
    """The refund for `claims` (Claimed: order line, quantity, reason) on `order`.

    `already_refunded` defaults to what the order records as refunded; pass what it was
    before a completed request to show that request's own breakdown.
    """
    settings = settings or RefundSettings.from_config(order.currency)
    currency = order.currency
    paid, estimate, paid_sentence = paid_line_totals(order)
    paid_by_item = {id(item): value for item, value in zip(order.items, paid, strict=True)}

    lines = []
    for claim in claims:
        item = claim.item
        line_paid = paid_by_item[id(item)]
        quantity = min(claim.quantity, item.quantity)
        # Part of a line: rounded down, so parts never add up to more than the line cost.
        amount = line_paid if quantity == item.quantity else line_paid * quantity // item.quantity
        lines.append(
            RefundLine(
                sku=item.sku,
                name=item.name,
                quantity=quantity,
                bought=item.quantity,
                line_paid=line_paid,
                amount=amount,
                reason=claim.reason,
                fee_waived=claim.reason in SHOP_AT_FAULT,
            )
        )
    items_total = sum(line.amount for line in lines)
    explanations = [paid_sentence] if paid_sentence else []

    by_choice = sum(line.amount for line in lines if not line.fee_waived)
    restocking = _percent_of(by_choice, settings.restocking_percent)
    if settings.restocking_percent:
        explanations.append(_restocking_sentence(lines, restocking, settings, currency))

    shop_at_fault = [line for line in lines if line.fee_waived]
    shipping = 0
    if settings.return_shipping_fee and lines:
        if request_type == "refund":
            explanations.append("No return shipping fee: nothing is sent back.")
        elif shop_at_fault:
            explanations.append(
                f"No return shipping fee: {_fault_phrase(shop_at_fault)} is the shop's fault."
            )
        else:
            shipping = settings.return_shipping_fee
            explanations.append(f"Return shipping fee: {money(shipping, currency)}.")

    refunded = order.refunded_total if already_refunded is None else already_refunded
    remaining = max(order.total - (refunded or 0), 0)
    gross = items_total - restocking - shipping
    amount = max(min(gross, remaining), 0)
    capped = gross > remaining
    if capped:
        explanations.append(
            f"Capped at {money(remaining, currency)}, what remains refundable on order "
            f"{order.number} ({money(refunded or 0, currency)} of {money(order.total, currency)} "
            "was refunded already)."
        )
    elif gross < 0:
        explanations.append("The fees are more than the items' value, so nothing is refunded.")
    return Refund(
        currency=currency,
        basis=basis,
        lines=tuple(lines),
        items_total=items_total,
        restocking_fee=restocking,
        return_shipping_fee=shipping,
        remaining=remaining,
        amount=amount,
        capped=capped,
        estimate=estimate,
        explanations=tuple(explanations),
    )


def _fault_phrase(lines):
    reasons = sorted({REASON_LABELS[line.reason].lower() for line in lines})
    return " / ".join(reasons)


def _restocking_sentence(lines, fee, settings, currency):
    percent = f"{settings.restocking_percent.normalize():f}%"
    waived = [line for line in lines if line.fee_waived]
    if fee and waived:
        return (
            f"Restocking fee: {percent} of the items returned by choice, "
            f"{money(fee, currency)}; none for {_fault_phrase(waived)}."
        )
    if fee:
        return f"Restocking fee: {percent}, {money(fee, currency)}."
    if waived:
        return f"No restocking fee: {_fault_phrase(waived)} is the shop's fault."
    return f"Restocking fee: {percent}, nothing on this amount."


def basis_for(request):
    """Which quantities a request's refund counts, from its type and where it is."""
    if request.status in ("pending", "rejected", "cancelled"):
        return "requested"
    if request.type == "refund" or request.status == "approved":
        return "approved"
    return "received"


def _quantity(line, basis):
    value = {
        "requested": line.quantity_requested,
        "approved": line.quantity_approved,
        "received": line.quantity_received,
    }[basis]
    return value if value is not None else line.quantity_requested


def refund_for_request(request, *, basis=None, settings=None):
    """The refund computation for a request as it stands: the estimate while it is pending
    or approved, the amount due once received, the breakdown behind a completed one."""
    basis = basis or basis_for(request)
    order = request.order
    already = order.refunded_total
    if request.status == "completed" and request.refund_method in MONEY_METHODS:
        already -= request.refund_amount or 0
    claims = [
        Claimed(line.order_item, _quantity(line, basis), line.reason)
        for line in request.lines
        if _quantity(line, basis)
    ]
    return compute_refund(
        order,
        claims,
        request_type=request.type,
        already_refunded=already,
        basis=basis,
        settings=settings,
    )
