"""Every eligibility rule as a table: the return window (from delivery or from the order),
more than bought (counting other requests that still hold items), final sale, a refund
without return only for the shop's mistakes, "other" needs a comment; each refusal names
its field and says in a sentence what is wrong. And a manager's override."""

from datetime import timedelta

import pytest

from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.returns.models import ReturnLine, ReturnRequest
from dashboard.returns.rules import (
    DraftLine,
    ReturnDraft,
    ReturnSettings,
    check_request,
    returnability,
)
from tests.factories import storefront_order


def draft(order, *lines, type="return", reason="size_or_fit", comment=None):
    """A draft from (sku, quantity[, reason[, comment]]) tuples."""
    return ReturnDraft(
        order_number=order.number,
        email=order.email,
        type=type,
        reason=reason,
        comment=comment,
        items=[DraftLine(*line) for line in lines],
    )


def held_by_another_request(order, sku, quantity, status="pending", approved=None):
    item = next(i for i in order.items if i.sku == sku)
    request = ReturnRequest(
        order_id=order.id,
        email=order.email,
        type="return",
        reason="size_or_fit",
        status=status,
        currency=order.currency,
        units_requested=quantity,
        value_requested=0,
        submitted_by="test",
        lines=[
            ReturnLine(
                order_item_id=item.id,
                sku=sku,
                name=item.name,
                quantity_requested=quantity,
                quantity_approved=approved,
                reason="size_or_fit",
            )
        ],
    )
    db.session.add(request)
    db.session.flush()


def day(value):
    return shop_time(value, "%d %b %Y")


@pytest.mark.parametrize(
    ("order_kwargs", "window_from", "allowed"),
    [
        ({"days_ago": 40, "delivered_days_ago": 29}, "delivery", True),
        ({"days_ago": 40, "delivered_days_ago": 31}, "delivery", False),
        ({"days_ago": 29}, "delivery", True),  # delivery unknown: counts from the order
        ({"days_ago": 31}, "delivery", False),
        ({"days_ago": 40, "delivered_days_ago": 5}, "order", False),
        ({"days_ago": 20, "delivered_days_ago": 5}, "order", True),
    ],
)
def test_the_return_window(ctx, app, order_kwargs, window_from, allowed):
    app.config["RETURN_WINDOW_FROM"] = window_from
    order = storefront_order(**order_kwargs)
    checked = check_request(order, draft(order, ("SKU-1", 1)))
    assert (not checked.refusals) is allowed
    if not allowed:
        [refusal] = checked.refusals
        assert refusal.rule == "outside_window" and refusal.field == "items.0.sku"
        counted_from = (
            order.delivered_at
            if window_from == "delivery" and order.delivered_at
            else order.placed_at
        )
        verb = "delivered" if counted_from is order.delivered_at else "ordered"
        assert refusal.message == (
            f"The return window for order {order.number} ended on "
            f"{day(counted_from + timedelta(days=30))}, 30 days after it was {verb} on "
            f"{day(counted_from)}."
        )


@pytest.mark.parametrize(
    ("held", "wanted", "sentence"),
    [
        (None, 3, "You bought 2 of “Product SKU-1”, so at most 2 can be returned."),
        (
            ("pending", 1, None),
            2,
            "You bought 2 of “Product SKU-1” and 1 is already in another return request, "
            "so at most 1 can be returned.",
        ),
        (
            ("approved", 2, 2),
            1,
            "All 2 of “Product SKU-1” are already in another return request.",
        ),
        (("completed", 2, 1), 2, "You bought 2 of “Product SKU-1” and 1 is already"),
        (("rejected", 2, None), 2, None),  # a rejected request holds nothing
        (("cancelled", 2, None), 2, None),
        (("approved", 2, 0), 2, None),  # approved none of them
        (None, 2, None),
    ],
)
def test_more_than_bought_counts_requests_that_still_hold_items(ctx, held, wanted, sentence):
    order = storefront_order()
    if held:
        status, quantity, approved = held
        held_by_another_request(order, "SKU-1", quantity, status, approved)
    checked = check_request(order, draft(order, ("SKU-1", wanted)))
    if sentence is None:
        assert checked.refusals == ()
        assert [(c.item.sku, c.quantity) for c in checked.claims] == [("SKU-1", wanted)]
    else:
        [refusal] = checked.refusals
        assert (refusal.rule, refusal.field) == ("more_than_bought", "items.0.quantity")
        assert refusal.message.startswith(sentence)


@pytest.mark.parametrize(
    ("final_sale", "refused"),
    [("SKU-2", True), ("SKU-1, SKU-2", True), ("SKU-*", True), ("SKU-1", False), ("", False)],
)
def test_final_sale_skus(ctx, app, final_sale, refused):
    app.config["FINAL_SALE_SKUS"] = final_sale
    order = storefront_order()
    checked = check_request(order, draft(order, ("SKU-1", 1), ("SKU-2", 1)))
    fields = checked.fields
    assert ("items.1.sku" in fields) is refused
    if refused:
        assert fields["items.1.sku"] == (
            "“Product SKU-2” was sold as final sale and cannot be returned."
        )


@pytest.mark.parametrize(
    ("reason", "line_reason", "refused"),
    [
        ("damaged", None, False),
        ("wrong_item", None, False),
        ("not_as_described", None, False),
        ("changed_mind", None, True),
        ("size_or_fit", None, True),
        ("late_delivery", None, True),
        ("changed_mind", "damaged", False),  # the line's own reason counts
        ("damaged", "size_or_fit", True),
    ],
)
def test_a_refund_without_return_only_for_the_shops_mistakes(ctx, reason, line_reason, refused):
    order = storefront_order()
    checked = check_request(
        order, draft(order, ("SKU-1", 1, line_reason), type="refund", reason=reason)
    )
    assert bool(checked.refusals) is refused
    if refused:
        assert checked.fields == {
            "items.0.reason": "A refund without sending “Product SKU-1” back is only possible "
            "when it arrived damaged, was the wrong item or was not as described; ask for a "
            "return instead."
        }


@pytest.mark.parametrize(
    ("comment", "line", "refused"),
    [
        (None, ("SKU-1", 1), True),
        ("   ", ("SKU-1", 1), True),
        ("The zip broke on day one", ("SKU-1", 1), False),
        (None, ("SKU-1", 1, None, "Colour is off"), False),
        (None, ("SKU-1", 1, "damaged"), False),  # the line's own reason is not "other"
    ],
)
def test_reason_other_needs_a_comment(ctx, comment, line, refused):
    order = storefront_order()
    checked = check_request(order, draft(order, line, reason="other", comment=comment))
    assert bool(checked.refusals) is refused
    if refused:
        assert checked.fields == {
            "items.0.comment": "Tell us in a comment what is wrong when the reason is “Other”."
        }


def test_a_sku_not_in_the_order_and_one_listed_twice(ctx):
    order = storefront_order()
    checked = check_request(order, draft(order, ("NOPE", 1), ("SKU-1", 1), ("SKU-1", 1)))
    assert checked.fields == {
        "items.0.sku": f"Order {order.number} has no item with SKU NOPE.",
        "items.2.sku": "SKU SKU-1 is listed more than once; send it once with the whole quantity.",
    }


def test_every_line_is_named(ctx, app):
    app.config["FINAL_SALE_SKUS"] = "SKU-2"
    order = storefront_order(days_ago=60)
    checked = check_request(order, draft(order, ("SKU-1", 5), ("SKU-2", 1)))
    assert {r.rule for r in checked.refusals} == {
        "outside_window",
        "final_sale",
        "more_than_bought",
    }
    assert set(checked.fields) == {"items.0.sku", "items.0.quantity", "items.1.sku"}


def test_a_manager_override_lets_the_window_and_final_sale_through_but_not_quantities(ctx, app):
    app.config["FINAL_SALE_SKUS"] = "SKU-2"
    order = storefront_order(days_ago=60)
    checked = check_request(
        order,
        draft(order, ("SKU-1", 5), ("SKU-2", 1)),
        overrides={"outside_window", "final_sale", "more_than_bought"},
    )
    assert [r.rule for r in checked.refusals] == ["more_than_bought"]
    assert {r.rule for r in checked.overridden} == {"outside_window", "final_sale"}


def test_a_sku_bought_on_two_lines_fills_them_in_order(ctx):
    order = storefront_order((("SKU-1", 1, 2500), ("SKU-1", 2, 2000)))
    checked = check_request(order, draft(order, ("SKU-1", 2)))
    assert checked.refusals == ()
    assert [(c.item.unit_price, c.quantity) for c in checked.claims] == [(2500, 1), (2000, 1)]
    too_many = check_request(order, draft(order, ("SKU-1", 4)))
    assert too_many.fields == {
        "items.0.quantity": "You bought 3 of “Product SKU-1”, so at most 3 can be returned."
    }


def test_returnable_says_per_line_how_many_or_why_none(ctx, app):
    app.config["FINAL_SALE_SKUS"] = "SKU-3"
    order = storefront_order(
        (("SKU-1", 2, 2500), ("SKU-2", 1, 1000), ("SKU-3", 1, 500)), delivered_days_ago=3
    )
    held_by_another_request(order, "SKU-2", 1)
    result = returnability(order)
    assert result.window_open and result.window.counts_from == "delivery"
    assert [(line.item.sku, line.returnable, line.held) for line in result.lines] == [
        ("SKU-1", 2, 0),
        ("SKU-2", 0, 1),
        ("SKU-3", 0, 0),
    ]
    assert [line.reason for line in result.lines] == [
        None,
        "All 1 of “Product SKU-2” are already in another return request.",
        "“Product SKU-3” was sold as final sale and cannot be returned.",
    ]


def test_returnable_after_the_window_names_the_date(ctx):
    order = storefront_order(days_ago=45, delivered_days_ago=40)
    result = returnability(order)
    assert not result.window_open
    assert {line.returnable for line in result.lines} == {0}
    assert result.lines[0].reason.startswith(f"The return window for order {order.number} ended")


def test_a_wrong_window_setting_is_named(ctx, app):
    app.config["RETURN_WINDOW_FROM"] = "shipping"
    with pytest.raises(ValueError, match="RETURN_WINDOW_FROM must be 'delivery' or 'order'"):
        ReturnSettings.from_config()
