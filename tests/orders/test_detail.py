"""An order's page: where it came from (recovered or not), its history, and marking an
order that awaited payment as paid (once, audited)."""

from sqlalchemy import select

from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.models import Order
from dashboard.orders.service import convert_to_order


def awaiting_payment(app, make_incomplete_order):
    cart_id = make_incomplete_order()
    with app.app_context():
        order = convert_to_order(
            db.session.get(IncompleteOrder, cart_id), Actor.system("test"), payment_received=False
        )
        db.session.commit()
        return order.id


def test_an_agent_marks_an_order_paid_once_and_it_is_audited(
    app, client, login, make_incomplete_order
):
    order_id = awaiting_payment(app, make_incomplete_order)
    login("agent")
    page = client.get(f"/orders/{order_id}").text
    assert "Awaiting payment" in page and f'action="/orders/{order_id}/mark-paid"' in page
    assert "Not recovered: no recovery email reached the customer" in page

    done = client.post(f"/orders/{order_id}/mark-paid", follow_redirects=True).text
    assert "is marked paid." in done and "Mark paid" not in done
    again = client.post(f"/orders/{order_id}/mark-paid", follow_redirects=True).text
    assert "is marked paid already." in again

    with app.app_context():
        assert db.session.get(Order, order_id).payment_received is True
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "order.mark_paid")
        ).all()
        assert [(e.actor_label, e.record_id) for e in events] == [("agent@example.com", order_id)]
    assert "Payment received" in client.get(f"/orders/{order_id}").text  # in its history


def test_viewers_cannot_mark_paid(app, client, login, make_incomplete_order):
    order_id = awaiting_payment(app, make_incomplete_order)
    login("viewer")
    assert "Mark paid" not in client.get(f"/orders/{order_id}").text
    assert client.post(f"/orders/{order_id}/mark-paid").status_code == 403
    with app.app_context():
        assert db.session.get(Order, order_id).payment_received is False


def test_a_recovered_order_names_its_step(app, client, login, make_incomplete_order):
    order_id = awaiting_payment(app, make_incomplete_order)
    with app.app_context():
        order = db.session.get(Order, order_id)
        order.recovered_step, order.recovery_clicked = 2, True
        db.session.commit()
    login("viewer")
    page = client.get(f"/orders/{order_id}").text
    assert "Recovered by recovery email step 2; the customer clicked its link" in page


def test_the_orders_list_filters_by_payment(app, client, login, make_incomplete_order):
    awaiting = awaiting_payment(app, make_incomplete_order)
    with app.app_context():
        paid = convert_to_order(
            db.session.get(IncompleteOrder, make_incomplete_order()), Actor.system("test")
        )
        db.session.commit()
        numbers = {
            "awaiting": db.session.get(Order, awaiting).number,
            "received": paid.number,
        }
    login("viewer")

    def listed(payment):
        page = client.get(f"/orders/?payment={payment}").text
        return {n for n in numbers.values() if f">{n}<" in page}

    assert listed("") == set(numbers.values())
    assert listed("awaiting") == {numbers["awaiting"]}
    assert listed("received") == {numbers["received"]}
    refused = client.get("/orders/?payment=maybe")
    assert "Not a valid choice" in refused.text
