"""The API's bodies for return requests. Their JSON Schemas feed the OpenAPI document."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from dashboard.api.schemas import Body, Email, Text
from dashboard.returns.models import EVENTS, REASONS, REFUND_METHODS, STATUSES, TYPES

Reason = Literal[REASONS]
REASONS_TEXT = ", ".join(REASONS)
MAX_COMMENT = 2000


class ReturnItemIn(Body):
    sku: Text = Field(min_length=1, max_length=64, description="As in the order.")
    quantity: int = Field(ge=1, le=10_000)
    reason: Reason | None = Field(None, description="The request's reason when not given.")
    comment: Text | None = Field(None, max_length=MAX_COMMENT)


class ReturnRequestIn(Body):
    """A customer's return request. The order number and email (any case) prove the
    customer's ownership of the order."""

    order_number: Text = Field(min_length=1, max_length=40)
    email: Email = Field(max_length=254)
    type: Literal[TYPES] = Field(
        description="return: send back, refunded on receipt. exchange: send back, a "
        "replacement comes. refund: nothing comes back (only for damaged, wrong_item, "
        "not_as_described)."
    )
    reason: Reason = Field(description=f"One of {REASONS_TEXT}; other needs a comment.")
    comment: Text | None = Field(None, max_length=MAX_COMMENT)
    items: list[ReturnItemIn] = Field(min_length=1, max_length=200)


class ReturnCancelIn(Body):
    note: Text | None = Field(None, max_length=MAX_COMMENT, description="Why, for the shop.")


class ReturnLineOut(BaseModel):
    sku: str
    name: str
    reason: Reason
    comment: str | None
    quantity_requested: int
    quantity_approved: int | None = Field(description="Set once decided.")
    quantity_received: int | None = Field(description="Set once the parcel arrived.")
    quantity_damaged: int | None


class RefundLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    amount: int = Field(description="Minor units: what these units cost the customer.")


class RefundEstimateOut(BaseModel):
    """The refund computation as it stands: the same figures staff see."""

    currency: str
    basis: Literal["requested", "approved", "received"] = Field(
        description="Which quantities it counts."
    )
    lines: list[RefundLineOut]
    items_total: int
    restocking_fee: int
    return_shipping_fee: int
    amount: int = Field(description="Minor units; never negative.")
    capped: bool = Field(description="Limited to what remains refundable on the order.")
    estimate: bool = Field(
        description="Line prices inferred from the order's total (no paid_total was sent)."
    )
    explanation: list[str] = Field(description="Sentences the customer can read.")


class RefundOut(BaseModel):
    """The refund recorded when the request was completed."""

    amount: int
    computed: int = Field(description="What the refund computation said; may differ, with a note.")
    currency: str
    method: Literal[tuple(REFUND_METHODS)]
    reference: str | None
    note: str | None
    completed_at: AwareDatetime


class ReturnEventOut(BaseModel):
    event: Literal[EVENTS]
    at: AwareDatetime
    by: Literal["customer", "shop"]
    note: str | None = Field(description="For the customer.")


class ReturnRequestOut(BaseModel):
    number: str = Field(description="RMA-000123")
    order_number: str
    status: Literal[STATUSES]
    type: Literal[TYPES]
    reason: Reason
    comment: str | None
    submitted_at: AwareDatetime
    decision_due_at: AwareDatetime | None = Field(description="While pending.")
    ship_by: AwareDatetime | None = Field(description="An approved return is due back by then.")
    customer_note: str | None = Field(description="The shop's note for the customer.")
    lines: list[ReturnLineOut]
    refund_estimate: RefundEstimateOut
    refund: RefundOut | None = Field(description="Once completed.")
    history: list[ReturnEventOut]


class ReturnWindowOut(BaseModel):
    counts_from: Literal["delivery", "order"]
    started_at: AwareDatetime
    ends_at: AwareDatetime
    open: bool
    sentence: str


class ReturnableLineOut(BaseModel):
    sku: str
    name: str
    bought: int
    in_requests: int = Field(description="In requests that were not rejected or cancelled.")
    returnable: int
    final_sale: bool
    reason: str | None = Field(description="Why none may be returned, for the customer.")


class ReturnableOut(BaseModel):
    order_number: str
    window: ReturnWindowOut
    lines: list[ReturnableLineOut]


MODELS = (
    ReturnRequestIn,
    ReturnCancelIn,
    ReturnRequestOut,
    ReturnableOut,
)
