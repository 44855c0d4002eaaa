"""Signals that let one domain react to another without importing it.

    order_converted.send(order, incomplete_order_id=...)

is sent by dashboard.orders.service in the converting transaction, once an incomplete order
has become `order` (the sender); the recovery domain credits its emails.

    return_request_moved.send(request, event=..., actor=...)

is sent by dashboard.returns.service in the transaction of each move of a return request
(event: submitted, approved, rejected, received, completed, cancelled).

    outbox_messages_finished.send(kind, finished=[(message, status, at), ...])

is sent by dashboard.outbox.delivery after each delivery batch, for the messages of `kind`
that left the outbox's queue for good (status sent, printed, failed or withdrawn, and when);
the recovery domain times each cart's next step from it.

Receivers flush only, like any service.
"""

from blinker import Namespace

_signals = Namespace()

order_converted = _signals.signal("order-converted")
return_request_moved = _signals.signal("return-request-moved")
outbox_messages_finished = _signals.signal("outbox-messages-finished")
