"""Every audit action, with the words staff read for it."""

ACTION_LABELS = {
    "incomplete_order.create": "Cart received from the storefront",
    "incomplete_order.update": "Cart updated by the storefront",
    "incomplete_order.close_emptied": "Closed: the customer emptied the cart",
    "incomplete_order.expire": "Expired",
    "incomplete_order.cancel": "Cancelled",
    "incomplete_order.reopen": "Reopened",
    "incomplete_order.note": "Note added",
    "incomplete_order.convert": "Converted to an order",
    "incomplete_order.bulk_expire": "Expired in bulk",
    "incomplete_order.bulk_cancel": "Cancelled in bulk",
    "incomplete_order.purge": "Old expired and cancelled carts deleted",
    "order.create": "Order created",
    "order.mark_paid": "Payment received",
    "order.delivered": "Delivery reported",
    "return_request.submit": "Return request submitted",
    "return_request.override": "Eligibility rule overridden",
    "return_request.approve": "Return request approved",
    "return_request.reject": "Return request rejected",
    "return_request.receive": "Returned parcel received",
    "return_request.complete": "Return request completed",
    "return_request.cancel": "Return request cancelled",
    "return_request.note": "Note added",
    "staff.create": "Staff account created",
    "staff.change_role": "Staff role changed",
    "staff.deactivate": "Staff account deactivated",
    "staff.activate": "Staff account reactivated",
    "recovery.send": "Recovery email queued",
    "recovery.pause": "Recovery emails paused",
    "recovery.resume": "Recovery emails resumed",
    "recovery.unsubscribe": "Customer unsubscribed",
    "recovery.resubscribe": "Customer asked for reminders again",
    "outbox.retry": "Email queued again",
    "job.run_now": "Job run started by hand",
    "api_key.create": "API key created",
    "api_key.revoke": "API key revoked",
}


def action_label(action):
    return ACTION_LABELS.get(action, action)
