"""What staff can do to many incomplete orders at once: expire, cancel, and send each the
next recovery email now. Each says which carts it leaves as they are, and why."""

from flask import has_request_context, request

from dashboard.bulk import BulkAction, BulkActions
from dashboard.incomplete_orders import queries, service
from dashboard.incomplete_orders.forms import IncompleteOrderFilterForm
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.recovery.rules import RecoverySettings, next_step_exclusions
from dashboard.recovery.service import queue_next_step_now
from dashboard.timeutil import utcnow


def _status_change(action, destructive=True):
    """A bulk action from one of the status transitions: it leaves out the carts whose
    status it does not start from (the same condition its UPDATE has)."""
    transition = service.TRANSITIONS[action]
    starts_from = " or ".join(transition.from_statuses)
    return BulkAction(
        name=action,
        label=transition.label,
        confirm=f"{transition.label} {{things}}?",
        done=f"{transition.done} {{things}}.",
        role=transition.role,
        left_out=lambda: [
            (
                "their status does not allow it",
                IncompleteOrder.status.not_in(transition.from_statuses),
            )
        ],
        run=lambda condition, actor, selection: service.bulk_change_status(
            action, condition, actor, selection
        ),
        rule=f"Only {starts_from} ones can be {transition.done.lower()}.",
        destructive=destructive,
    )


def _send_anyway():
    """The agent chose to include carts emailed within RECOVERY_MANUAL_MIN_GAP_HOURS."""
    return has_request_context() and bool(request.form.get("send_anyway"))


def _why_no_next_step():
    """Why an incomplete order gets no "next email now", in the order the recovery rules
    give (the first that holds counts); carts that are not open come first."""
    settings = RecoverySettings.from_config()
    return [
        ("not open", IncompleteOrder.status != "open"),
        *next_step_exclusions(settings, utcnow(), send_anyway=_send_anyway()),
    ]


SEND_NEXT = BulkAction(
    name="send_next",
    label="Send next email",
    confirm="Send the next recovery email to {things}?",
    done="Queued the next recovery email for {things}.",
    role="agent",
    left_out=_why_no_next_step,
    run=lambda condition, actor, selection: queue_next_step_now(
        actor, condition, send_anyway=_send_anyway()
    ),
    go="Send {count}",
    rule="The emails go out with the next delivery run, whatever their steps' delays.",
    destructive=False,
    confirm_template="incomplete_orders/_bulk_confirm_send.html",
)

INCOMPLETE_ORDER_BULK = BulkActions(
    one="incomplete order",
    many="incomplete orders",
    id_column=IncompleteOrder.id,
    filter_form=IncompleteOrderFilterForm,
    in_filter=queries.in_filter,
    actions=(_status_change("expire"), _status_change("cancel"), SEND_NEXT),
    changed_event="incompleteOrdersChanged",
)
