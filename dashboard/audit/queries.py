"""Reads of the audit log: the filtered list, newest first, and where each record lives."""

from dataclasses import dataclass

from flask import current_app, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from dashboard import listing
from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.extensions import db
from dashboard.listing import SortOption, Sorts, parse_amount

AUDIT_SORTS = Sorts([SortOption("id", "Newest", AuditEvent.id, parse_amount)], default="-id")


@dataclass(frozen=True)
class RecordKind:
    """A kind of record audit events name, and the page that shows one: `endpoint` with the
    record's id as `id_arg`, or (no `id_arg`) a list page the `role` may open."""

    label: str
    endpoint: str
    id_arg: str | None = None
    role: str = "viewer"


RECORD_KINDS = {
    "incomplete_order": RecordKind("Incomplete order", "incomplete_orders.detail", "order_id"),
    "order": RecordKind("Order", "orders.detail", "order_id"),
    "return_request": RecordKind("Return request", "returns.detail", "request_id"),
    "outbox_message": RecordKind("Email", "outbox.detail", "message_id"),
    "staff": RecordKind("Staff", "staff.list_staff", role="manager"),
    "api_key": RecordKind("API key", "api_keys.list_keys", role="manager"),
    "job": RecordKind("Job", "jobs.list_jobs"),
}


def record_url(record_type, record_id):
    """The page of the record an event names, or None (an unknown kind, a page this staff
    member may not open, or a domain whose pages are not there)."""
    kind = RECORD_KINDS.get(record_type)
    if kind is None or kind.endpoint not in current_app.view_functions:
        return None
    if not current_user.has_role(kind.role):
        return None
    if kind.id_arg is None:
        return url_for(kind.endpoint)
    if not record_id:
        return None
    try:
        return url_for(kind.endpoint, **{kind.id_arg: record_id})
    except BuildError:  # a page that names its record otherwise: no link rather than a 500
        return None


def filter_conditions(f):
    conditions = []
    if f.get("actor"):
        conditions.append(AuditEvent.actor_label == f["actor"].strip().lower())
    if f.get("action"):
        conditions.append(AuditEvent.action == f["action"])
    if f.get("record_type"):
        conditions.append(AuditEvent.record_type == f["record_type"])
    if f.get("record_id"):
        rt = f.get("record_type") or "incomplete_order"
        targets = select(AuditEventTarget.event_id).where(
            AuditEventTarget.record_type == rt, AuditEventTarget.record_id == f["record_id"]
        )
        conditions.append(
            ((AuditEvent.record_type == rt) & (AuditEvent.record_id == f["record_id"]))
            | AuditEvent.id.in_(targets)
        )
    return conditions


def filtered(filters):
    return select(AuditEvent).where(*filter_conditions(filters))


def list_page(form, page_size):
    """The log for a filled-in AuditFilterForm, newest first, counted inline (bounded)."""
    return listing.list_page(db.session, form, filtered, AUDIT_SORTS, AuditEvent.id, page_size)
