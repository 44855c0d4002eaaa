"""The columns an internal staff note has, wherever staff write one (carts, return
requests): who wrote it, what, and when."""

from sqlalchemy.orm import declared_attr

from dashboard.extensions import db
from dashboard.timeutil import utcnow


class StaffNoteColumns:
    staff_id = db.Column(db.Integer, db.ForeignKey("staff.id", ondelete="SET NULL"))
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    @declared_attr
    def staff(cls):
        return db.relationship("Staff")
