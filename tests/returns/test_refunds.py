"""The refund computation as a table: prices paid × quantities, fees and their waivers,
partial receipt, the cap at what remains refundable, discounts spread over lines, and a
currency without decimals. Orders are built in memory; nothing is saved."""

from decimal import Decimal

import pytest

from dashboard.orders.models import Order, OrderItem
from dashboard.returns.refunds import (
    Claimed,
    RefundSettings,
    _fee_for,
    compute_refund,
    largest_remainder,
    paid_line_totals,
)

NO_FEES = RefundSettings(Decimal(0), 0)
# Sentences format money in the shop's locale, a setting of the app.
pytestmark = pytest.mark.usefixtures("ctx")


def order(*lines, total=None, shipping=None, refunded=0, currency="EUR"):
    """An order from (sku, quantity, unit_price[, paid_total]) tuples."""
    items = [
        OrderItem(
            sku=line[0],
            name=f"Product {line[0]}",
            quantity=line[1],
            unit_price=line[2],
            paid_total=line[3] if len(line) > 3 else None,
        )
        for line in lines
    ]
    if total is None:
        total = sum(i.quantity * i.unit_price for i in items) + (shipping or 0)
    return Order(
        number="SHOP-1",
        currency=currency,
        total=total,
        shipping_total=shipping,
        refunded_total=refunded,
        items=items,
    )


def claim(o, index, quantity, reason="changed_mind"):
    return Claimed(o.items[index], quantity, reason)


# (case, order, claims as (line, quantity, reason), request type, settings,
#  expected: items_total, restocking_fee, return_shipping_fee, amount, capped)
CASES = [
    (
        "price paid times quantity",
        dict(lines=[("A", 2, 2500), ("B", 1, 1000)]),
        [(0, 2, "changed_mind"), (1, 1, "size_or_fit")],
        "return",
        NO_FEES,
        (6000, 0, 0, 6000, False),
    ),
    (
        "part of a line",
        dict(lines=[("A", 3, 1000)]),
        [(0, 1, "size_or_fit")],
        "return",
        NO_FEES,
        (1000, 0, 0, 1000, False),
    ),
    (
        "part of a line paid at an odd amount rounds down",
        dict(lines=[("A", 3, 1000, 2000)]),
        [(0, 1, "size_or_fit")],
        "return",
        NO_FEES,
        (666, 0, 0, 666, False),
    ),
    (
        "restocking fee on a change of mind",
        dict(lines=[("A", 2, 2500)]),
        [(0, 2, "changed_mind")],
        "return",
        RefundSettings(Decimal(10), 0),
        (5000, 500, 0, 4500, False),
    ),
    (
        "restocking fee waived for damaged",
        dict(lines=[("A", 2, 2500)]),
        [(0, 2, "damaged")],
        "return",
        RefundSettings(Decimal(10), 0),
        (5000, 0, 0, 5000, False),
    ),
    (
        "restocking fee only on the lines returned by choice",
        dict(lines=[("A", 1, 3000), ("B", 1, 1000)]),
        [(0, 1, "wrong_item"), (1, 1, "size_or_fit")],
        "return",
        RefundSettings(Decimal("12.5"), 0),
        (4000, 125, 0, 3875, False),
    ),
    (
        "return shipping fee on a change of mind",
        dict(lines=[("A", 1, 3000)]),
        [(0, 1, "changed_mind")],
        "return",
        RefundSettings(Decimal(0), 495),
        (3000, 0, 495, 2505, False),
    ),
    (
        "return shipping waived when the parcel holds the shop's mistake",
        dict(lines=[("A", 1, 3000), ("B", 1, 1000)]),
        [(0, 1, "not_as_described"), (1, 1, "changed_mind")],
        "return",
        RefundSettings(Decimal(0), 495),
        (4000, 0, 0, 4000, False),
    ),
    (
        "no return shipping when nothing is sent back",
        dict(lines=[("A", 1, 3000)]),
        [(0, 1, "damaged")],
        "refund",
        RefundSettings(Decimal(10), 495),
        (3000, 0, 0, 3000, False),
    ),
    (
        "both fees",
        dict(lines=[("A", 2, 2000)]),
        [(0, 2, "size_or_fit")],
        "exchange",
        RefundSettings(Decimal(10), 495),
        (4000, 400, 495, 3105, False),
    ),
    (
        "capped at what remains refundable",
        dict(lines=[("A", 2, 2500)], refunded=4000),
        [(0, 2, "damaged")],
        "return",
        NO_FEES,
        (5000, 0, 0, 1000, True),
    ),
    (
        "nothing left to refund",
        dict(lines=[("A", 2, 2500)], refunded=5000),
        [(0, 1, "damaged")],
        "return",
        NO_FEES,
        (2500, 0, 0, 0, True),
    ),
    (
        "fees larger than the items: zero, never negative",
        dict(lines=[("A", 1, 300)]),
        [(0, 1, "changed_mind")],
        "return",
        RefundSettings(Decimal(10), 495),
        (300, 30, 495, 0, False),
    ),
    (
        "nothing received, nothing refunded",
        dict(lines=[("A", 1, 300)]),
        [],
        "return",
        RefundSettings(Decimal(10), 495),
        (0, 0, 0, 0, False),
    ),
    (
        "JPY: whole yen, the fee rounded half up",
        dict(lines=[("A", 1, 1999)], currency="JPY"),
        [(0, 1, "changed_mind")],
        "return",
        RefundSettings(Decimal(10), 800),
        (1999, 200, 800, 999, False),
    ),
    (
        "paid totals from the storefront are what is refunded",
        dict(lines=[("A", 2, 2500, 4000), ("B", 1, 1000, 800)], total=4800),
        [(0, 1, "size_or_fit"), (1, 1, "size_or_fit")],
        "return",
        NO_FEES,
        (2800, 0, 0, 2800, False),
    ),
]


@pytest.mark.parametrize(
    ("case", "made", "claims", "request_type", "settings", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_refund(case, made, claims, request_type, settings, expected):
    lines = made.pop("lines")
    o = order(*lines, **made)
    refund = compute_refund(
        o,
        [claim(o, *c) for c in claims],
        request_type=request_type,
        settings=settings,
    )
    got = (
        refund.items_total,
        refund.restocking_fee,
        refund.return_shipping_fee,
        refund.amount,
        refund.capped,
    )
    assert got == expected
    assert isinstance(refund.amount, int) and refund.amount >= 0
    assert refund.amount <= o.total - (o.refunded_total or 0)


def test_the_cap_says_what_remains_and_what_was_refunded():
    o = order(("A", 2, 2500), refunded=4000)
    refund = compute_refund(o, [claim(o, 0, 2, "damaged")], settings=NO_FEES)
    assert refund.remaining == 1000
    assert any("Capped at" in s and "refunded already" in s for s in refund.explanations)


def test_waivers_are_explained():
    o = order(("A", 1, 3000))
    refund = compute_refund(
        o, [claim(o, 0, 1, "damaged")], settings=RefundSettings(Decimal(10), 495)
    )
    assert "No restocking fee: arrived damaged is the shop's fault." in refund.explanations
    assert "No return shipping fee: arrived damaged is the shop's fault." in refund.explanations


def test_an_order_level_discount_is_spread_by_largest_remainder_and_flagged():
    # 3 × 1000 list, charged 2000: 1000 off spread as 334/333/333 by largest remainder.
    o = order(("A", 1, 1000), ("B", 1, 1000), ("C", 1, 1000), total=2000)
    paid, estimate, sentence = paid_line_totals(o)
    assert sum(paid) == 2000
    assert sorted(paid) == [666, 667, 667]
    assert paid == [666, 667, 667]  # on a tie the unit left over goes to the earlier line
    assert estimate is True and "discount" in sentence and "spread" in sentence

    refund = compute_refund(o, [claim(o, i, 1) for i in range(3)], settings=NO_FEES)
    assert refund.amount == 2000 and refund.estimate is True
    assert refund.explanations[0] == sentence


def test_a_discount_is_shared_in_proportion_to_the_line_prices():
    # 1000 off 6000: the 5000 line bears 5/6 of it.
    o = order(("A", 1, 5000), ("B", 2, 500), total=5000)
    paid, _, _ = paid_line_totals(o)
    assert paid == [4167, 833]


def test_shipping_known_means_no_estimate():
    o = order(("A", 2, 2500), ("B", 1, 1000), shipping=490)
    assert o.total == 6490
    paid, estimate, sentence = paid_line_totals(o)
    assert (paid, estimate, sentence) == ([5000, 1000], False, None)


def test_a_total_above_the_items_without_a_shipping_total_is_not_refunded():
    o = order(("A", 2, 2500), ("B", 1, 1000), total=6490)
    paid, estimate, sentence = paid_line_totals(o)
    assert paid == [5000, 1000]
    assert estimate is True and "taken to be shipping" in sentence


def test_a_surcharge_beyond_shipping_is_spread_when_shipping_is_known():
    o = order(("A", 1, 1000), ("B", 1, 3000), total=5490, shipping=490)  # 1000 of tax
    paid, estimate, _ = paid_line_totals(o)
    assert paid == [1250, 3750] and estimate is True


@pytest.mark.parametrize(
    ("amount", "weights"),
    [(1, [1, 1, 1]), (100, [3, 3, 3]), (7, [0, 5, 5]), (1001, [1, 2, 3, 4]), (0, [1, 2])],
)
def test_largest_remainder_adds_up_exactly(amount, weights):
    shares = largest_remainder(amount, weights)
    assert sum(shares) == amount
    assert all(share >= 0 for share in shares)


@pytest.mark.parametrize(
    ("setting", "currency", "fee"),
    [
        (495, "EUR", 495),
        (495, "JPY", 0),  # a plain amount is the shop's currency, never another's
        ("495", "EUR", 495),
        ("EUR:495,JPY:800", "JPY", 800),
        ("EUR:495,JPY:800", "USD", 0),
        ({"EUR": 495}, "EUR", 495),
        (0, "EUR", 0),
    ],
)
def test_return_shipping_fee_setting(setting, currency, fee):
    assert _fee_for(setting, currency, "EUR") == fee
