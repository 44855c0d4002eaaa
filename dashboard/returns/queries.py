"""Reads of return requests: the desk's filtered, sorted, paged list, and one request's
page (its lines with a sentence each on eligibility, the refund breakdown, one timeline)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, and_, func, or_, select, true, union
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import selectinload

from dashboard import listing
from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.listing import SortOption, Sorts, parse_amount, parse_datetime
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.returns.models import (
    EVENT_LABELS,
    REASON_LABELS,
    ReturnEvent,
    ReturnLine,
    ReturnNote,
    ReturnRequest,
)
from dashboard.returns.refunds import refund_for_request
from dashboard.returns.rules import RULES, SHOP_AT_FAULT, decision_sla, returnability
from dashboard.timeutil import shop_day_start_utc, utcnow

MIN_SEARCH_LENGTH = 3
ANY_STATUS = "any"
CUSTOMER_HISTORY_DAYS = 90

RETURN_SORTS = Sorts(
    [
        SortOption("submitted", "Submitted", ReturnRequest.submitted_at, parse_datetime),
        SortOption("value", "Value requested", ReturnRequest.value_requested, parse_amount),
        SortOption("units", "Units", ReturnRequest.units_requested, parse_amount),
    ],
    # The queue: the request waiting longest first.
    default="submitted",
)

OVERDUE_LABELS = {
    "any": "Overdue (either clock)",
    "decision": "Decision overdue",
    "ship_by": "Parcel overdue (not back by its ship-by date)",
}


def decision_overdue(now):
    return and_(
        ReturnRequest.status == "pending", ReturnRequest.submitted_at < now - decision_sla()
    )


def ship_by_overdue(now):
    return and_(ReturnRequest.status == "approved", ReturnRequest.ship_by_at < now)


# A search matching at most this many requests is read by their ids; a broader one (a
# fragment such as "example") by the page's own order, which finds a page of them at once.
SEARCH_IDS_CAP = 500


def _search(q):
    """RMA number, order number, SKU exactly (any case); the email by a fragment.

    The matching ids are gathered first, one indexed read per kind, stopping once there
    are more than SEARCH_IDS_CAP: a narrow search then reads just those requests by id,
    rather than testing every request in turn; a broad one tests the requests in the
    page's order, where a page of matches comes quickly.
    """
    needle = q.strip()
    upper, lower = needle.upper(), needle.lower()
    email = ReturnRequest.email.contains(lower, autoescape=True)
    exact = [
        select(ReturnRequest.id).where(ReturnRequest.number == upper),
        select(ReturnRequest.id).where(
            ReturnRequest.order_id.in_(select(Order.id).where(Order.number.in_({needle, upper})))
        ),
        select(ReturnLine.return_request_id).where(ReturnLine.sku.in_({needle, upper})),
    ]
    if needle.isdigit() and len(needle) <= 9:
        exact.append(select(ReturnRequest.id).where(ReturnRequest.id == int(needle)))
    # SQLite reads the email index rather than the table; PostgreSQL its trigram index.
    matches = (*exact, select(ReturnRequest.id).where(email))
    return listing.search_by_ids(
        db.session,
        ReturnRequest.id,
        matches,
        broad=or_(email, ReturnRequest.id.in_(union(*exact))),
        cap=SEARCH_IDS_CAP,
    )


def filter_conditions(filters, now=None):
    """SQL conditions for the valid filters of ReturnFilterForm.valid_data()."""
    now = now or utcnow()
    f = filters
    conditions = []
    if f.get("status") and f["status"] != ANY_STATUS:
        conditions.append(ReturnRequest.status == f["status"])
    for name in ("type", "reason"):
        if f.get(name):
            conditions.append(getattr(ReturnRequest, name) == f[name])
    if f.get("overdue") == "decision":
        conditions.append(decision_overdue(now))
    elif f.get("overdue") == "ship_by":
        conditions.append(ship_by_overdue(now))
    elif f.get("overdue") == "any":
        conditions.append(or_(decision_overdue(now), ship_by_overdue(now)))
    if f.get("submitted_from"):
        conditions.append(ReturnRequest.submitted_at >= shop_day_start_utc(f["submitted_from"]))
    if f.get("submitted_to"):
        conditions.append(
            ReturnRequest.submitted_at < shop_day_start_utc(f["submitted_to"] + timedelta(days=1))
        )
    if f.get("q"):
        conditions.append(_search(f["q"]))
    return conditions


def filtered(filters):
    return select(ReturnRequest).where(*filter_conditions(filters))


def in_filter(filters):
    """A condition selecting every request the filters match (for bulk updates)."""
    return and_(true(), *filter_conditions(filters))


def age_text(now, since):
    """ "12 min", "3 h", "2 d 4 h": how long since `since`."""
    seconds = int((now - since).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    days, hours = seconds // 86400, (seconds % 86400) // 3600
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass(frozen=True)
class RowFacts:
    """What a list row shows beyond the request's own columns, worked out in Python once
    per row (a page of 50 rows renders in a few milliseconds)."""

    order_number: str
    customer_name: str | None  # the name on the order
    reasons: str  # the request's and its lines' reasons, labelled, once each
    age: str
    decision_overdue: bool
    ship_by_overdue: bool
    recent: int  # the customer's requests in the last 90 days


@dataclass
class ReturnList:
    """The list page, and per row what is not in the row itself."""

    result: listing.ListResult
    orders: dict  # order id -> (number, name)
    line_reasons: dict  # request id -> its lines' reasons
    recent_by_email: dict  # email -> the customer's requests in the last 90 days
    now: datetime
    decision_sla: timedelta

    def __post_init__(self):
        self.facts = {r.id: self._facts(r) for r in self.result.rows}

    def _facts(self, request):
        reasons = dict.fromkeys([request.reason, *self.line_reasons.get(request.id, ())])
        order_number, customer_name = self.orders[request.order_id]
        return RowFacts(
            order_number=order_number,
            customer_name=customer_name,
            reasons=", ".join(REASON_LABELS[reason] for reason in reasons),
            age=age_text(self.now, request.submitted_at),
            decision_overdue=self.decision_overdue(request),
            ship_by_overdue=self.ship_by_overdue(request),
            recent=self.recent(request),
        )

    def recent(self, request):
        return self.recent_by_email.get(request.email, 0)

    def decision_overdue(self, request):
        return request.status == "pending" and request.submitted_at + self.decision_sla < self.now

    def ship_by_overdue(self, request):
        return (
            request.status == "approved"
            and request.ship_by_at is not None
            and request.ship_by_at < self.now
        )


def list_page(form, page_size, now=None):
    """The list for a filled-in ReturnFilterForm. What a row shows of its order, its lines
    and its customer's other requests is read for the whole page at once, as plain values
    (one query each; building 50 orders and 100 lines as objects took longer)."""
    now = now or utcnow()
    result = listing.list_page(
        db.session, form, filtered, RETURN_SORTS, ReturnRequest.id, page_size
    )
    rows = result.rows
    line_reasons = {}
    if rows:
        for request_id, reason in db.session.execute(
            select(ReturnLine.return_request_id, ReturnLine.reason)
            .where(ReturnLine.return_request_id.in_({r.id for r in rows}))
            .order_by(ReturnLine.return_request_id, ReturnLine.id)
        ):
            line_reasons.setdefault(request_id, []).append(reason)
    orders = (
        {
            order_id: (number, name)
            for order_id, number, name in db.session.execute(
                select(Order.id, Order.number, Order.name).where(
                    Order.id.in_({r.order_id for r in rows})
                )
            )
        }
        if rows
        else {}
    )
    return ReturnList(
        result=result,
        orders=orders,
        line_reasons=line_reasons,
        recent_by_email=recent_requests_by_email({r.email for r in rows}, now),
        now=now,
        decision_sla=decision_sla(),
    )


def recent_requests_by_email(emails, now=None):
    """{email: how many return requests it made in the last 90 days}, in one query: each
    email's count an index-only read of (email, submitted_at)."""
    if not emails:
        return {}
    since = (now or utcnow()) - timedelta(days=CUSTOMER_HISTORY_DAYS)
    r = ReturnRequest
    if db.session.get_bind().dialect.name != "postgresql":
        rows = db.session.execute(
            select(r.email, func.count())
            .where(r.email.in_(emails), r.submitted_at >= since)
            .group_by(r.email)
        )
        return dict(rows.all())
    # PostgreSQL may serve `email IN (...)` from the search's trigram index instead (136 ms
    # for 50 emails on a small table): one count per email, each an equality.
    asked = (
        func.unnest(postgresql.array(sorted(emails), type_=String))
        .table_valued("email")
        .render_derived(name="asked")
    )
    count = (
        select(func.count())
        .where(r.email == asked.c.email, r.submitted_at >= since)
        .scalar_subquery()
    )
    rows = db.session.execute(select(asked.c.email, count))
    return {email: n for email, n in rows if n}


def export_rows(filters):
    """The filtered requests for the CSV, streamed in batches, with their orders."""
    stmt = (
        filtered(filters)
        .options(selectinload(ReturnRequest.order), selectinload(ReturnRequest.lines))
        .order_by(ReturnRequest.id)
        .execution_options(yield_per=500)
    )
    return db.session.scalars(stmt)


# --- one request ------------------------------------------------------------------


def get_request(request_id):
    return db.session.get(
        ReturnRequest,
        request_id,
        options=[
            selectinload(ReturnRequest.lines).selectinload(ReturnLine.order_item),
            selectinload(ReturnRequest.order),
        ],
    )


@dataclass(frozen=True)
class LineView:
    line: object  # ReturnLine
    eligibility: str  # a sentence on whether, and why, the line could be returned
    refused: bool  # a rule refuses it (and no manager overrode it for this line)
    overridden: str | None = None  # who let it through which rules, and why


def lines_with_eligibility(request):
    """Each line with a sentence on its eligibility as it was when the request came in."""
    order = request.order
    state = returnability(order, now=request.submitted_at, exclude_request_id=request.id)
    by_item = {line.item.id: line for line in state.lines}
    overridden = set(filter(None, (request.overridden_rules or "").split(",")))
    views = []
    for line in request.lines:
        sentences, refused = [], False
        checked = by_item.get(line.order_item_id)
        if checked is None:
            sentences.append("This item is no longer on the order.")
            refused = True
        else:
            if checked.reason:
                sentences.append(checked.reason)
                refused = True
            else:
                sentences.append(state.window.open_sentence())
                other = f", {checked.held} in other requests" if checked.held else ""
                sentences.append(
                    f"Bought {checked.bought}{other}: up to {checked.bought - checked.held} "
                    "could be returned."
                )
            if checked.item.quantity < line.quantity_requested:
                refused = True
        if request.type == "refund" and line.reason not in SHOP_AT_FAULT:
            sentences.append(
                "A refund without sending the item back is normally only for damaged, wrong "
                "or not-as-described items."
            )
            refused = True
        # Overrides recorded per line; an older request recorded them for the request.
        codes = line.overridden or (tuple(sorted(overridden)) if refused else ())
        let_through = None
        if codes:
            rules = "; ".join(RULES[code].summary.lower() for code in codes if code in RULES)
            let_through = (
                f"Overridden by {request.overridden_by} ({rules}): “{request.override_note}”"
            )
            refused = False
        views.append(LineView(line, " ".join(sentences), refused, let_through))
    return views


@dataclass(frozen=True)
class NewLine:
    """One SKU of an order, as staff recording a request for the customer see it."""

    index: int  # its quantity-<index>, reason-<index> and override-<index> fields
    sku: str
    name: str
    bought: int
    held: int  # in other requests that were not rejected or cancelled
    returnable: int
    sentence: str | None  # why nothing may be returned
    blocked_by: tuple  # rule codes a manager could override to return it anyway


def new_request_lines(order, now=None):
    """The order's items, one per SKU (a SKU bought at two prices is one line, as the
    storefront sends it), with how many may still be returned and what stands in the way."""
    state = returnability(order, now=now)
    by_sku = {}
    for line in state.lines:
        by_sku.setdefault(line.item.sku, []).append(line)
    views = []
    for index, (sku, group) in enumerate(by_sku.items()):
        blocked = []
        if not state.window_open:
            blocked.append("outside_window")
        if group[0].final_sale:
            blocked.append("final_sale")
        bought = sum(line.bought for line in group)
        held = sum(line.held for line in group)
        views.append(
            NewLine(
                index=index,
                sku=sku,
                name=group[0].item.name,
                bought=bought,
                held=held,
                returnable=sum(line.returnable for line in group),
                sentence=next((line.reason for line in group if line.reason), None),
                blocked_by=tuple(blocked),
            )
        )
    return views


def refund_breakdown(request):
    return refund_for_request(request)


def customer_requests(request, limit=20):
    """The customer's other requests, newest first."""
    return db.session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.email == request.email, ReturnRequest.id != request.id)
        .options(selectinload(ReturnRequest.order))
        .order_by(ReturnRequest.submitted_at.desc(), ReturnRequest.id.desc())
        .limit(limit)
    ).all()


def requests_for_order(order_id):
    """An order's return requests, newest first (for the order's page)."""
    return db.session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.order_id == order_id)
        .order_by(ReturnRequest.submitted_at.desc(), ReturnRequest.id.desc())
    ).all()


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # move | email | note | override
    title: str
    actor: str | None = None
    body: str | None = None
    status: str | None = None  # an email's outbox status
    link: int | None = None  # an email's outbox id


def timeline(request):
    """The request's moves (who, and the note the customer read), its emails with their
    outbox status, internal notes and overrides: one list, newest first."""
    entries = []
    for event in db.session.scalars(
        select(ReturnEvent).where(ReturnEvent.return_request_id == request.id)
    ):
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="move",
                title=EVENT_LABELS[event.event],
                actor=(
                    f"the customer (through {event.actor_label})"
                    if event.by_customer
                    else event.actor_label
                ),
                body=event.note,
            )
        )
    for message in db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.record_type == "return_request", OutboxMessage.record_id == request.id
        )
    ):
        entries.append(
            TimelineEntry(
                at=message.created_at,
                kind="email",
                title=f"Email to the customer: {message.subject or message.dedupe_key}",
                actor=message.to_email,
                status=message.status,
                link=message.id,
            )
        )
    for note in db.session.scalars(
        select(ReturnNote)
        .where(ReturnNote.return_request_id == request.id)
        .options(selectinload(ReturnNote.staff))
    ):
        entries.append(
            TimelineEntry(
                at=note.created_at,
                kind="note",
                title="Internal note",
                actor=note.staff.email if note.staff else None,
                body=note.body,
            )
        )
    for event in db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.record_type == "return_request",
            AuditEvent.record_id == request.id,
            AuditEvent.action == "return_request.override",
        )
    ):
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="override",
                title="Eligibility rule overridden",
                actor=event.actor_label,
                body=event.details.get("note"),
            )
        )
    # Within one moment, a move comes before the email it sent.
    order = {"move": 0, "override": 1, "email": 2, "note": 3}
    entries.sort(key=lambda e: (e.at, -order[e.kind]), reverse=True)
    return entries


# --- the overview ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeskNumbers:
    pending: int
    oldest_pending_at: datetime | None
    overdue: int


def desk_numbers(now=None):
    """For the overview: how many requests wait for a decision, since when the oldest has,
    and how many are overdue (either clock)."""
    now = now or utcnow()
    pending, oldest = db.session.execute(
        select(func.count(), func.min(ReturnRequest.submitted_at)).where(
            ReturnRequest.status == "pending"
        )
    ).one()
    overdue = db.session.scalar(
        select(func.count()).where(or_(decision_overdue(now), ship_by_overdue(now)))
    )
    return DeskNumbers(pending, oldest, overdue)
