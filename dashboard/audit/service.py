"""Writing audit events. Callers own the transaction: these functions only add and flush."""

import json

from flask import has_request_context
from flask_login import current_user

from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.extensions import db


class Actor:
    """Who made a change: a staff member, an API key, or a system job."""

    def __init__(self, kind, id, label):
        self.kind, self.id, self.label = kind, id, label

    @classmethod
    def staff(cls, staff):
        return cls("staff", staff.id, staff.email)

    @classmethod
    def system(cls, job_name):
        return cls("system", None, job_name)

    @classmethod
    def current(cls):
        if has_request_context() and current_user.is_authenticated:
            return cls.staff(current_user)
        return cls.system("cli")


def record(actor, action, record_type=None, record_id=None, **details):
    event = AuditEvent(
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        record_type=record_type,
        record_id=record_id,
        details_json=json.dumps(details, default=str, sort_keys=True),
    )
    db.session.add(event)
    db.session.flush()
    return event


def record_bulk(actor, action, record_type, record_ids, **details):
    """One event for a set-based change, with every touched record listed as a target."""
    event = record(actor, action, record_type, None, count=len(record_ids), **details)
    event.target_count = len(record_ids)
    if record_ids:
        # Core executemany: the ORM's bulk path costs more than the insert itself here.
        db.session.connection().execute(
            AuditEventTarget.__table__.insert(),
            [
                {"event_id": event.id, "record_type": record_type, "record_id": rid}
                for rid in record_ids
            ],
        )
    return event
