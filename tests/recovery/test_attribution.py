"""Attribution: a cart converted after a recovery email makes a recovered order, and every
conversion queues an order confirmation in the outbox."""

from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.service import convert_to_order
from dashboard.timeutil import as_utc, utcnow
from tests.factories import NOTHING, hours


def convert(app, cart_id):
    with app.app_context():
        order = convert_to_order(db.session.get(IncompleteOrder, cart_id), Actor.system("test"))
        db.session.commit()
        return order.id


def confirmation(shop, order_id):
    (message,) = [m for m in shop.outbox() if m.kind == "order_confirmation"]
    assert message.dedupe_key == f"order_confirmation:{order_id}"
    assert (message.record_type, message.record_id) == ("order", order_id)
    assert message.status == "queued"
    return message


def test_staff_conversion_after_two_emails_and_a_click(app, client, shop, quiet_cart, smtp_server):
    cart_id, quiet = quiet_cart(email="ada@example.com", name="Ada")
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    shop.run(quiet + hours(24))
    shop.deliver(quiet + hours(24))
    text = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert client.get(text[text.index("/r/") :].split()[0]).status_code == 303  # step 1

    order_id = convert(app, cart_id)
    order = shop.order(id=order_id)
    assert (order.recovered_step, order.recovery_clicked) == (2, True)
    assert all(a.converted_at is not None for a in shop.steps(cart_id))

    message = confirmation(shop, order_id)
    assert message.to_email == "ada@example.com"
    assert message.subject == f"Your order {order.number} at Reclaim Demo Shop"
    assert shop.deliver() == {**NOTHING, "sent": 1}
    received = smtp_server.messages[-1]
    assert received["Subject"] == message.subject
    text = received.get_body(("plain",)).get_content()
    assert order.number in text and "Total: €60.00" in text
    assert received["List-Unsubscribe"] is None  # a confirmation is not a reminder

    assert shop.run(quiet + hours(72)).sent == 0  # and no step 3


def test_storefront_conversion_after_one_email(shop, quiet_cart, storefront):
    cart_id, quiet = quiet_cart(cart_id="cart-sf", email="ada@example.com")
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    response = storefront.post_order(
        number="SHOP-9",
        cart_id="cart-sf",
        email="ada@example.com",
        placed_at=as_utc(utcnow()).isoformat(),
    )
    assert response.status_code == 201, response.json
    assert response.json["converted_cart"] is True

    order = shop.order(number="SHOP-9")
    assert (order.recovered_step, order.recovery_clicked) == (1, False)
    assert order.incomplete_order_id == cart_id
    assert confirmation(shop, order.id).to_email == "ada@example.com"

    # The same report again: no second order, no second confirmation.
    again = storefront.post_order(
        number="SHOP-9",
        cart_id="cart-sf",
        email="ada@example.com",
        placed_at=response.json["order"]["placed_at"],
    )
    assert again.status_code == 200 and again.json["outcome"] == "existing"
    assert len([m for m in shop.outbox() if m.kind == "order_confirmation"]) == 1


def test_a_conversion_without_recovery_emails_is_not_recovered(app, shop, quiet_cart):
    cart_id, _ = quiet_cart(hours_ago=0.5)
    order_id = convert(app, cart_id)
    order = shop.order(id=order_id)
    assert (order.recovered_step, order.recovery_clicked) == (None, False)
    confirmation(shop, order_id)  # the customer is told all the same


def test_a_conversion_while_the_email_waits_in_the_outbox_is_not_credited_to_it(
    app, shop, quiet_cart, smtp_server
):
    cart_id, quiet = quiet_cart(email="ada@example.com")
    assert shop.run(quiet + hours(1)).by_step == {1: 1}  # queued, not delivered yet

    order_id = convert(app, cart_id)
    order = shop.order(id=order_id)
    assert (order.recovered_step, order.recovery_clicked) == (None, False)
    assert all(a.converted_at is None for a in shop.steps(cart_id))

    # The confirmation goes out; the reminder, no longer wanted, does not.
    assert shop.deliver() == {**NOTHING, "sent": 1, "withdrawn": 1}
    assert [m["Subject"] for m in smtp_server.messages] == [
        f"Your order {order.number} at Reclaim Demo Shop"
    ]
    (reminder,) = shop.outbox(cart_id)
    assert reminder.last_error == f"converted into order {order.number}"
