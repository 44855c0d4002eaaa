"""Recovery emails, written when they go out: the outbox's renderer for kind "recovery".

A recovery run only decides: it claims the carts and queues outbox rows with no content.
Delivery writes each email from the cart as it is then, or withdraws it when the email is
no longer wanted: the customer bought or unsubscribed, or staff paused or closed the cart,
since the run. A mail server down for hours must not turn into reminders after a purchase.
"""

import logging

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.outbox.service import Content, Unwritable, Withdrawn
from dashboard.recovery.models import Suppression
from dashboard.recovery.rules import (
    RecoverySettings,
    read_dedupe_key,
    still_wanted,
    why_withdrawn,
)
from dashboard.recovery.tokens import public_url, restore_token, unsubscribe_token

log = logging.getLogger(__name__)


def recovery_subject(step):
    """A step's subject line: it names the shop and the step, never the cart, so the same
    step reads the same for every customer (the demo's seeded emails use it too)."""
    return render_template(
        "emails/recovery_subject.txt", step=step, shop=current_app.config
    ).strip()


def recovery_email(order, step, to_email):
    """The email for one step of one cart, to the address it was queued for."""
    unsubscribe_url = public_url("recovery.unsubscribe", token=unsubscribe_token(to_email))
    context = dict(
        order=order,
        step=step,
        restore_url=public_url("recovery.restore", token=restore_token(order.id, step)),
        unsubscribe_url=unsubscribe_url,
        shop=current_app.config,
    )
    return Content(
        subject=recovery_subject(step),
        body_text=render_template("emails/recovery.txt", **context),
        body_html=render_template("emails/recovery.html", **context),
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def render_batch(messages):
    """Content, Withdrawn or Unwritable for each recovery message, by message id: four
    queries for the batch, and more only for a withdrawn one (to say why)."""
    steps = {m.id: read_dedupe_key(m.dedupe_key) for m in messages}
    order_ids = {order_id for order_id, _ in steps.values()}
    orders = {
        o.id: o
        for o in db.session.scalars(
            select(IncompleteOrder)
            .where(IncompleteOrder.id.in_(order_ids))
            .options(selectinload(IncompleteOrder.items))
        )
    }
    wanted = set(
        db.session.scalars(
            select(IncompleteOrder.id).where(IncompleteOrder.id.in_(order_ids), still_wanted())
        )
    )
    unsubscribed = set(
        db.session.scalars(
            select(Suppression.email).where(Suppression.email.in_({m.to_email for m in messages}))
        )
    )
    settings = RecoverySettings.from_config()
    rendered = {}
    for message in messages:
        order_id, step = steps[message.id]
        order = orders.get(order_id)
        if order is None:
            rendered[message.id] = Withdrawn("the cart no longer exists")
        elif order_id not in wanted:
            rendered[message.id] = Withdrawn(why_withdrawn(order, settings) or "no longer due")
        elif step < order.recovery_attempts:
            # A failed email retried after a later step went: it would arrive out of order.
            rendered[message.id] = Withdrawn(f"step {order.recovery_attempts} was sent after it")
        elif message.to_email in unsubscribed:
            rendered[message.id] = Withdrawn(f"{message.to_email} unsubscribed")
        else:
            try:
                rendered[message.id] = recovery_email(order, step, message.to_email)
            except Exception as error:  # noqa: BLE001 - one bad email must not stop the rest
                log.exception("could not write recovery email %s", message.dedupe_key)
                rendered[message.id] = Unwritable(f"{type(error).__name__}: {error}")
    return rendered
