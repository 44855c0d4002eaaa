"""Return requests through the storefront API: submit (with Idempotency-Key), read,
cancel; what an order still allows to return; delivery reported later; orders carrying
what each line cost. Exact statuses and error bodies."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.returns import service
from dashboard.returns.models import ReturnRequest
from tests.factories import KEY_NAME, RETURN_SETTINGS, at, order_body

AGENT = Actor("staff", 1, "ana@shop.example")


@pytest.fixture(autouse=True)
def _return_settings(app, monkeypatch):
    for name, value in RETURN_SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)


def days_ago(n):
    return (datetime.now(UTC) - timedelta(days=n)).isoformat()


@pytest.fixture
def order(api):
    """An order reported by the storefront, delivered two days ago: its number."""
    response = api.post_order(
        number="SHOP-1", shipping_total=490, placed_at=days_ago(5), delivered_at=days_ago(2)
    )
    assert response.status_code == 201, response.json
    return "SHOP-1"


def return_body(**overrides):
    body = {
        "order_number": "SHOP-1",
        "email": "ada@example.com",
        "type": "return",
        "reason": "size_or_fit",
        "comment": "Too small",
        "items": [{"sku": "SKU-1", "quantity": 1}],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def submit(api, headers=None, **overrides):
    return api.post("/return-requests", json=return_body(**overrides), headers=headers or {})


def test_a_request_is_created_pending_with_its_estimate_and_the_customer_is_emailed(
    app, api, order
):
    response = submit(
        api,
        items=[
            {"sku": "SKU-1", "quantity": 2},
            {"sku": "SKU-2", "quantity": 1, "reason": "damaged", "comment": "Torn"},
        ],
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["number"].startswith("RMA-") and len(body["number"]) == 10
    assert (body["status"], body["order_number"], body["type"]) == ("pending", "SHOP-1", "return")
    assert [
        (line["sku"], line["quantity_requested"], line["quantity_approved"], line["reason"])
        for line in body["lines"]
    ] == [("SKU-1", 2, None, "size_or_fit"), ("SKU-2", 1, None, "damaged")]
    estimate = body["refund_estimate"]
    assert (estimate["amount"], estimate["basis"], estimate["estimate"]) == (
        6000,
        "requested",
        False,
    )
    assert estimate["currency"] == "EUR" and estimate["capped"] is False
    assert [(e["event"], e["by"]) for e in body["history"]] == [("submitted", "customer")]
    assert body["decision_due_at"] is not None and body["refund"] is None

    with app.app_context():
        request = db.session.scalar(select(ReturnRequest))
        assert request.submitted_by == KEY_NAME
        [email] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "return"))
        assert email.dedupe_key == f"return:{request.id}:submitted"
        assert email.to_email == "ada@example.com"
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "return_request.submit")
        )
        assert (event.actor_type, event.actor_label) == ("api_key", KEY_NAME)


def test_the_email_proves_ownership_in_any_case(api, order):
    assert submit(api, email="ADA@EXAMPLE.COM").status_code == 201


@pytest.mark.parametrize(
    "overrides",
    [{"order_number": "SHOP-404"}, {"email": "eve@example.com"}],
    ids=["order", "email"],
)
def test_an_unknown_order_and_a_wrong_email_are_the_same_404(api, order, overrides):
    response = submit(api, **overrides)
    assert response.status_code == 404
    assert response.json == {
        "error": {
            "code": "not_found",
            "message": "No order matches that order number and email address. Check both "
            "against the order confirmation.",
        }
    }


def test_an_ineligible_line_is_422_not_eligible_naming_each_line(app, api, order):
    app.config["FINAL_SALE_SKUS"] = "SKU-2"
    response = submit(api, items=[{"sku": "SKU-1", "quantity": 3}, {"sku": "SKU-2", "quantity": 1}])
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "not_eligible"
    assert error["fields"] == {
        "items.0.quantity": "You bought 2 of “Product SKU-1”, so at most 2 can be returned.",
        "items.1.sku": "“Product SKU-2” was sold as final sale and cannot be returned.",
    }


def test_outside_the_window_says_when_it_ended_and_what_it_counted_from(app, api):
    api.post_order(number="SHOP-1", placed_at=days_ago(50), delivered_at=days_ago(40))
    response = submit(api)
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(ReturnRequest.id)) is None
        delivered_at = db.session.scalar(select(Order.delivered_at))
        ended = shop_time(delivered_at + timedelta(days=30), "%d %b %Y")
        since = shop_time(delivered_at, "%d %b %Y")
    assert response.json["error"]["fields"] == {
        "items.0.sku": f"The return window for order SHOP-1 ended on {ended}, 30 days after "
        f"it was delivered on {since}."
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "refund", "reason": "changed_mind"}, "items.0.reason"),
        ({"reason": "other", "comment": ...}, "items.0.comment"),
    ],
)
def test_refund_and_other_rules_are_422_not_eligible(api, order, overrides, field):
    response = submit(api, **overrides)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "not_eligible"
    assert list(response.json["error"]["fields"]) == [field]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "swap"}, "type"),
        ({"reason": "bored"}, "reason"),
        ({"items": []}, "items"),
        ({"items": [{"sku": "SKU-1", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"sku": "SKU-1", "quantity": 1, "colour": "red"}]}, "items.0.colour"),
        ({"email": "not an email"}, "email"),
        ({"refund": True}, "refund"),
    ],
)
def test_a_malformed_request_is_422_validation_failed(api, order, overrides, field):
    response = submit(api, **overrides)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]


def test_an_idempotency_key_makes_a_retry_return_the_first_answer(app, api, order):
    first = submit(api, headers={"Idempotency-Key": "req-7f3a"})
    again = submit(api, headers={"Idempotency-Key": "req-7f3a"}, email="Ada@Example.com")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["number"] == first.json["number"]
    with app.app_context():
        assert len(db.session.scalars(select(ReturnRequest)).all()) == 1
        assert len(db.session.scalars(select(OutboxMessage)).all()) == 1  # one email

    other = submit(
        api, headers={"Idempotency-Key": "req-7f3a"}, items=[{"sku": "SKU-2", "quantity": 1}]
    )
    assert other.status_code == 409
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert first.json["number"] in other.json["error"]["message"]

    bad = submit(api, headers={"Idempotency-Key": "x" * 201})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json["error"]["fields"]


def test_without_a_key_a_second_request_is_a_second_request(api, order):
    assert submit(api).status_code == 201
    assert submit(api).status_code == 201
    third = submit(api)
    assert third.status_code == 422  # both shirts are in requests now
    assert third.json["error"]["fields"] == {
        "items.0.quantity": "All 2 of “Product SKU-1” are already in another return request."
    }


def test_reading_a_request_shows_the_desks_decisions_and_the_history(app, api, order):
    number = submit(api, items=[{"sku": "SKU-1", "quantity": 2}]).json["number"]
    with app.app_context():
        request = service.find_request(number)
        service.approve(request, AGENT, {request.lines[0].id: 1}, "One is enough.")
        service.receive(request, AGENT, {request.lines[0].id: (1, 1)})
        db.session.commit()
    response = api.get(f"/return-requests/{number}")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "received" and body["customer_note"] == "One is enough."
    [line] = body["lines"]
    assert (
        line["quantity_requested"],
        line["quantity_approved"],
        line["quantity_received"],
        line["quantity_damaged"],
    ) == (2, 1, 1, 1)
    assert [(e["event"], e["by"], e["note"]) for e in body["history"]] == [
        ("submitted", "customer", None),
        ("approved", "shop", "One is enough."),
        ("received", "shop", None),
    ]
    assert body["refund_estimate"]["basis"] == "received"
    assert body["refund_estimate"]["amount"] == 2500
    assert "ana@shop.example" not in response.text  # who at the desk is not the customer's

    with app.app_context():
        request = service.find_request(number)
        service.complete(request, AGENT, method="store_credit", reference="GIFT-9")
        db.session.commit()
    body = api.get(f"/return-requests/{number.lower()}").json
    assert body["refund"]["amount"] == 2500 and body["refund"]["method"] == "store_credit"
    assert body["refund"]["reference"] == "GIFT-9"


def test_an_unknown_request_is_404(api):
    response = api.get("/return-requests/RMA-999999")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_the_customer_cancels_while_pending_and_only_then(app, api, order):
    number = submit(api).json["number"]
    response = api.post(f"/return-requests/{number}/cancel", json={"note": "Found it fits"})
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["history"][-1] == {
        "event": "cancelled",
        "at": response.json["history"][-1]["at"],
        "by": "customer",
        "note": "Found it fits",
    }
    again = api.post(f"/return-requests/{number}/cancel")
    assert again.status_code == 409
    assert again.json["error"] == {
        "code": "not_cancellable",
        "message": f"Return request {number} is cancelled; only a pending request can be "
        "cancelled by the customer. Ask the shop.",
    }

    approved = submit(api).json["number"]
    with app.app_context():
        service.approve(service.find_request(approved), AGENT)
        db.session.commit()
    assert api.post(f"/return-requests/{approved}/cancel").status_code == 409
    assert api.post("/return-requests/RMA-424242/cancel").status_code == 404


def test_cancel_with_a_body_that_is_not_json_is_415(api, order):
    number = submit(api).json["number"]
    response = api.post(
        f"/return-requests/{number}/cancel", data="please", content_type="text/plain"
    )
    assert response.status_code == 415


def test_returnable_says_per_line_how_many_may_still_be_returned_or_why_not(app, api, order):
    app.config["FINAL_SALE_SKUS"] = "SKU-2"
    submit(api)
    response = api.get("/orders/SHOP-1/returnable")
    assert response.status_code == 200
    body = response.json
    assert body["order_number"] == "SHOP-1"
    assert body["window"]["counts_from"] == "delivery" and body["window"]["open"] is True
    assert body["window"]["sentence"].startswith("Returns are possible until ")
    assert body["lines"] == [
        {
            "sku": "SKU-1",
            "name": "Product SKU-1",
            "bought": 2,
            "in_requests": 1,
            "returnable": 1,
            "final_sale": False,
            "reason": None,
        },
        {
            "sku": "SKU-2",
            "name": "Product SKU-2",
            "bought": 1,
            "in_requests": 0,
            "returnable": 0,
            "final_sale": True,
            "reason": "“Product SKU-2” was sold as final sale and cannot be returned.",
        },
    ]
    assert api.get("/orders/SHOP-404/returnable").status_code == 404


def test_delivery_reported_later_moves_the_window(app, api):
    api.post_order(number="SHOP-1", placed_at=days_ago(40))
    assert submit(api).status_code == 422  # 40 days after the order, delivery unknown
    response = api.request("PATCH", "/orders/SHOP-1", json={"delivered_at": days_ago(3)})
    assert response.status_code == 200, response.json
    assert response.json["delivered_at"] is not None
    assert api.get("/orders/SHOP-1/returnable").json["window"]["counts_from"] == "delivery"
    assert submit(api).status_code == 201
    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "order.delivered")
        )
        assert event.actor_label == KEY_NAME


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"delivered_at": at(-180)}, 422, "delivered_at"),  # three hours from now
        ({"delivered_at": days_ago(60)}, 422, "delivered_at"),  # before the order
        ({"delivered_at": "yesterday"}, 422, "delivered_at"),
        ({"delivered_at": "2026-01-01T10:00:00"}, 422, "delivered_at"),  # no time zone
        ({}, 422, "delivered_at"),
        ({"delivered_at": None, "total": 1}, 422, "total"),
    ],
)
def test_a_wrong_delivery_time_is_refused(api, body, status, field):
    api.post_order(number="SHOP-1", placed_at=days_ago(5))
    response = api.request("PATCH", "/orders/SHOP-1", json=body)
    assert response.status_code == status, response.json
    assert field in response.json["error"]["fields"]


def test_patching_an_unknown_order_is_404(api):
    response = api.request("PATCH", "/orders/SHOP-404", json={"delivered_at": days_ago(1)})
    assert response.status_code == 404


def test_an_order_carries_what_each_line_cost_and_its_shipping(api):
    response = api.post_order(
        number="SHOP-1",
        total=5490,
        shipping_total=490,
        items=[
            {"sku": "A", "name": "Shirt", "quantity": 2, "unit_price": 2500, "paid_total": 4000},
            {"sku": "B", "name": "Belt", "quantity": 1, "unit_price": 1000, "paid_total": 1000},
        ],
    )
    assert response.status_code == 201, response.json
    order = response.json["order"]
    assert [i["paid_total"] for i in order["items"]] == [4000, 1000]
    assert (order["shipping_total"], order["refunded_total"]) == (490, 0)
    estimate = submit(api, items=[{"sku": "A", "quantity": 1}]).json["refund_estimate"]
    assert (estimate["amount"], estimate["estimate"]) == (2000, False)


def test_without_paid_totals_an_order_discount_is_spread_and_the_estimate_says_so(api):
    api.post_order(number="SHOP-1", total=5400, shipping_total=0)  # 600 off 6000
    estimate = submit(api, items=[{"sku": "SKU-2", "quantity": 1}]).json["refund_estimate"]
    assert (estimate["amount"], estimate["estimate"]) == (900, True)
    assert "spread over its items" in estimate["explanation"][0]


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "items": [
                {"sku": "A", "name": "A", "quantity": 1, "unit_price": 100, "paid_total": 100},
                {"sku": "B", "name": "B", "quantity": 1, "unit_price": 100},
            ],
            "total": 200,
        },
        {
            "items": [
                {"sku": "A", "name": "A", "quantity": 1, "unit_price": 100, "paid_total": 300}
            ],
            "total": 200,
        },
        {"shipping_total": 7000},
        {"delivered_at": days_ago(1), "placed_at": at(5)},
    ],
    ids=["some-lines-only", "more-than-total", "shipping-more-than-total", "delivered-first"],
)
def test_order_figures_that_cannot_be_right_are_refused(api, overrides):
    response = api.post_order(**overrides)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_failed"


def test_the_same_order_reported_again_is_the_same_with_its_new_figures(api):
    body = order_body(number="SHOP-1", shipping_total=490)
    assert api.post("/orders", json=body).status_code == 201
    assert api.post("/orders", json=body).status_code == 200
    other = dict(body, shipping_total=0)
    assert api.post("/orders", json=other).json["error"]["code"] == "order_number_conflict"


def test_the_document_describes_the_return_operations_and_their_errors(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    post = paths["/return-requests"]["post"]
    assert set(post["responses"]) == {
        "200",
        "201",
        "400",
        "401",
        "404",
        "409",
        "413",
        "415",
        "422",
        "429",
    }
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
    assert "not_eligible" in post["responses"]["422"]["description"]
    assert "409" in paths["/return-requests/{number}/cancel"]["post"]["responses"]
    assert paths["/return-requests/{number}/cancel"]["post"]["requestBody"]["required"] is False
    assert set(paths["/orders/{number}"]) == {"parameters", "patch"}
    assert "200" in paths["/orders/{number}/returnable"]["get"]["responses"]
