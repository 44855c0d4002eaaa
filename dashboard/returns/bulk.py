"""What the desk can do to many return requests at once: approve them as requested, reject
them with one reason and note, mark their parcels received. Each says which requests it
leaves as they are, and why: the same conditions its UPDATE has.

Approve and reject carry what the customers read (and, for a reject, why): the confirm step
asks for it (`BulkNoteForm`), and the run reads it from the confirming POST.
"""

from flask import request

from dashboard.bulk import BulkAction, BulkActions
from dashboard.returns import queries, service
from dashboard.returns.forms import BulkNoteForm, ReturnFilterForm
from dashboard.returns.models import ReturnRequest

NOT_PENDING = ("no longer pending", ReturnRequest.status != "pending")


def bulk_inputs():
    """The note and reason of a bulk decision, from the POST (empty on a GET)."""
    return BulkNoteForm(request.form if request.method == "POST" else None)


def _posted(name):
    return bulk_inputs()[name].data


APPROVE = BulkAction(
    name="approve",
    label="Approve",
    confirm="Approve {things} as requested?",
    done="Approved {things}; each customer is told by email.",
    role="agent",
    left_out=lambda: [NOT_PENDING],
    run=lambda condition, actor, selection: service.bulk_approve(
        condition, actor, _posted("note"), selection
    ),
    rule="Only pending requests can be approved; every line is approved as requested.",
    destructive=False,
)

REJECT = BulkAction(
    name="reject",
    label="Reject",
    confirm="Reject {things}?",
    done="Rejected {things}; each customer reads your note by email.",
    role="agent",
    left_out=lambda: [NOT_PENDING],
    run=lambda condition, actor, selection: service.bulk_reject(
        condition, actor, _posted("reason"), _posted("note"), selection
    ),
    rule="Only pending requests can be rejected.",
)

RECEIVE = BulkAction(
    name="receive",
    label="Mark received",
    confirm="Mark the parcels of {things} received, in full and undamaged?",
    done="Marked {things} received; each customer is told by email.",
    role="agent",
    left_out=lambda: [
        ("not approved", ReturnRequest.status != "approved"),
        ("refunds: nothing is sent back", ReturnRequest.type == "refund"),
    ],
    run=lambda condition, actor, selection: service.bulk_receive(condition, actor, selection),
    go="Mark {count} received",
    rule="Only approved returns and exchanges have a parcel to receive. To record a parcel "
    "with missing or damaged items, open the request.",
    destructive=False,
)

# Which inputs each action's confirm step asks for.
NEEDS = {"approve": ("note",), "reject": ("reason", "note"), "receive": ()}

RETURN_BULK = BulkActions(
    one="return request",
    many="return requests",
    id_column=ReturnRequest.id,
    filter_form=ReturnFilterForm,
    in_filter=queries.in_filter,
    actions=(APPROVE, REJECT, RECEIVE),
    changed_event="returnRequestsChanged",
)
