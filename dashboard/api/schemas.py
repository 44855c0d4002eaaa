"""The API's request and response bodies. Their JSON Schemas feed the OpenAPI document."""

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email

from dashboard.incomplete_orders.models import STAGES, STATUSES
from dashboard.money import MAX_MINOR_UNITS

Stage = Literal[STAGES]
Currency = str


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text: refuse it here rather than fail on saving.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


Text = Annotated[
    str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
]


@lru_cache(maxsize=10_000)
def _valid_email(value: str) -> str:
    # As pydantic's EmailStr (email-validator, normalised), remembered: it is the slowest
    # check of a cart snapshot, and the storefront sends a cart's address with every change.
    return validate_email(value)[1]


Email = Annotated[str, AfterValidator(_valid_email), Field(json_schema_extra={"format": "email"})]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LineItem(Body):
    sku: Text = Field(min_length=1, max_length=64)
    name: Text = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=10_000)
    unit_price: int = Field(ge=0, le=MAX_MINOR_UNITS, description="Minor units (cents).")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


# No shop's data is older; a later date would overflow, or stop the jobs that read it.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# The storefront's clock may run a little ahead of ours, not more.
CLOCK_SKEW_SECONDS = 3600


def _iso_8601_string(value):
    # A number is not a time the storefront meant: pydantic would read 1 as 1970.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date and time string, like 2026-12-01T09:30:00Z")
    return value


def _within_utc_range(value: datetime) -> datetime:
    try:
        _utc(value)
    except OverflowError:  # 0001-01-01 in a zone east of UTC, 9999-12-31 west of it
        raise ValueError("is out of range once converted to UTC") from None
    if value < EARLIEST:
        raise ValueError("is before 2000-01-01; check the storefront's clock")
    if (value - datetime.now(UTC)).total_seconds() > CLOCK_SKEW_SECONDS:
        raise ValueError("is more than an hour in the future; check the storefront's clock")
    return value


# Every time the API accepts: an ISO 8601 string with its offset, from 2000 to an hour ahead.
Moment = Annotated[
    AwareDatetime, BeforeValidator(_iso_8601_string), AfterValidator(_within_utc_range)
]


class CartSnapshotIn(Body):
    """What the storefront knows about a cart now. Send the whole cart every time."""

    model_config = ConfigDict(
        # Whose cart it is: a registered customer, a guest, or both.
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("customer_id", "guest_session")
            ]
        }
    )

    snapshot_at: Moment = Field(
        description="When the storefront took this snapshot, with a time zone. "
        "An older snapshot than the one held is ignored."
    )
    stage: Stage = "cart"
    currency: Currency = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    customer_id: Text | None = Field(None, min_length=1, max_length=64)
    guest_session: Text | None = Field(None, min_length=1, max_length=128)
    email: Email | None = Field(None, max_length=254)
    phone: Text | None = Field(None, max_length=40)
    name: Text | None = Field(None, max_length=200)
    items: list[LineItem] = Field(
        max_length=200, description="An empty list closes the cart (the customer emptied it)."
    )

    @model_validator(mode="after")
    def _someone(self):
        if self.customer_id is None and self.guest_session is None:
            raise ValueError("give customer_id (a registered customer) or guest_session (a guest)")
        return self

    @field_validator("items")
    @classmethod
    def _within_largest_amount(cls, items):
        # The cart's subtotal is held, sorted and paged on like any other amount.
        if sum(i.quantity * i.unit_price for i in items) > MAX_MINOR_UNITS:
            raise ValueError(f"add up to more than {MAX_MINOR_UNITS:,} minor units")
        return items

    def snapshot_at_utc(self):
        return _utc(self.snapshot_at)


class IncompleteOrderOut(BaseModel):
    cart_id: str
    status: Literal[STATUSES]
    stage: Stage
    customer_id: str | None
    guest_session: str | None
    email: str | None
    phone: str | None
    name: str | None
    currency: str
    subtotal: int = Field(description="Minor units, computed from the items.")
    item_count: int
    items: list[LineItem]
    created_at: AwareDatetime
    last_activity_at: AwareDatetime
    order_number: str | None = Field(description="The order it became, once converted.")


class SnapshotResult(BaseModel):
    outcome: Literal["created", "updated", "unchanged", "stale", "closed", "ignored"] = Field(
        description="created / updated: applied. unchanged: the same snapshot again. "
        "stale: older than the one held, not applied. closed: the cart was emptied. "
        "ignored: the cart is converted or cancelled (not reopened), or an empty cart "
        "that Reclaim never saw."
    )
    message: str
    incomplete_order: IncompleteOrderOut | None


class OrderLineItem(LineItem):
    paid_total: int | None = Field(
        None,
        ge=0,
        le=MAX_MINOR_UNITS,
        description="What the whole line actually cost after discounts, in minor units. "
        "Refunds are computed from it; give it for every line or for none.",
    )


def _not_in_future(value):
    if value is not None and (value - datetime.now(UTC)).total_seconds() > 3600:
        raise ValueError("is in the future; send it once the parcel has arrived")
    return value


class OrderIn(Body):
    """A completed order. With cart_id, the incomplete order for that cart is converted."""

    number: Text = Field(min_length=1, max_length=40, description="The shop's order number.")
    cart_id: Text | None = Field(None, min_length=1, max_length=64)
    placed_at: Moment
    currency: Currency = Field(pattern=r"^[A-Z]{3}$")
    total: int = Field(ge=0, le=MAX_MINOR_UNITS, description="Minor units, as charged.")
    customer_id: Text | None = Field(None, min_length=1, max_length=64)
    email: Email | None = Field(None, max_length=254)
    phone: Text | None = Field(None, max_length=40)
    name: Text | None = Field(None, max_length=200)
    items: list[OrderLineItem] = Field(min_length=1, max_length=200)
    shipping_total: int | None = Field(
        None,
        ge=0,
        le=MAX_MINOR_UNITS,
        description="What of the total was shipping, in minor units.",
    )
    delivered_at: Moment | None = Field(
        None,
        description="When the parcel arrived, if known now; otherwise PATCH /orders/{number} "
        "later. The return window counts from it.",
    )

    _delivered_not_in_future = field_validator("delivered_at")(_not_in_future)

    @model_validator(mode="after")
    def _paid_totals_add_up(self):
        paid = [item.paid_total for item in self.items]
        if any(value is not None for value in paid) and None in paid:
            raise ValueError("give paid_total for every item or for none")
        if self.shipping_total is not None and self.shipping_total > self.total:
            raise ValueError("shipping_total is more than the order's total")
        if None not in paid and sum(paid) + (self.shipping_total or 0) > self.total:
            raise ValueError("the items' paid_total and shipping_total add up to more than total")
        if self.delivered_at is not None and self.delivered_at < self.placed_at:
            raise ValueError("delivered_at is before placed_at")
        return self

    def placed_at_utc(self):
        return _utc(self.placed_at)

    def delivered_at_utc(self):
        return _utc(self.delivered_at) if self.delivered_at is not None else None


class OrderPatch(Body):
    """What the storefront learns about an order after reporting it."""

    delivered_at: Moment | None = Field(
        description="When the parcel arrived (null: not known after all). The return window "
        "counts from it."
    )

    _delivered_not_in_future = field_validator("delivered_at")(_not_in_future)

    def delivered_at_utc(self):
        return _utc(self.delivered_at) if self.delivered_at is not None else None


class OrderOut(BaseModel):
    number: str
    source: Literal["storefront", "staff"]
    cart_id: str | None
    placed_at: AwareDatetime
    currency: str
    total: int
    customer_id: str | None
    email: str | None
    phone: str | None
    name: str | None
    items: list[OrderLineItem]
    shipping_total: int | None = None
    delivered_at: AwareDatetime | None = None
    refunded_total: int = Field(0, description="Refunded through return requests so far.")


class OrderResult(BaseModel):
    outcome: Literal["created", "existing"] = Field(
        description="created: recorded now. existing: this number was reported before "
        "with the same content."
    )
    converted_cart: bool = Field(description="Whether this report converted the cart.")
    order: OrderOut


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = None
    order_number: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
