from sqlalchemy import select

from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.extensions import db
from dashboard.listing import SortOption, bounded_count, keyset_page, parse_amount

AUDIT_SORT = SortOption("id", "Newest", AuditEvent.id, parse_amount)

# Where each kind of record is shown: (endpoint, whether it takes the record's id).
RECORD_ENDPOINTS = {
    "incomplete_order": ("incomplete_orders.detail", True),
    "order": ("orders.detail", True),
    "staff": ("staff.list_staff", False),
    "api_key": ("api_keys.list_keys", False),
}


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


def list_page(filters, page_size):
    stmt = select(AuditEvent).where(*filter_conditions(filters))
    page = keyset_page(
        db.session, stmt, AUDIT_SORT, AuditEvent.id, True, filters.get("cursor"), page_size
    )
    count, capped = bounded_count(db.session, stmt, AuditEvent.id)
    return page, count, capped
