"""The order confirmation, written to the outbox with the conversion."""

from flask import current_app, render_template

from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row


def queue_confirmation(order):
    if not order.email:
        return
    context = {"order": order, "shop": current_app.config}
    insert_ignoring_duplicates(
        [
            outbox_row(
                "order_confirmation",
                f"order_confirmation:{order.id}",
                order.email,
                f"Your order {order.number} at {current_app.config['SHOP_NAME']}",
                render_template("emails/order_confirmation.txt", **context),
                render_template("emails/order_confirmation.html", **context),
                record=("order", order.id),
            )
        ]
    )
