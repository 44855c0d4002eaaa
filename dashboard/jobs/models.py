import json

from dashboard.extensions import db
from dashboard.timeutil import utcnow


class SchedulerLease(db.Model):
    """Which process runs the scheduled jobs. It renews the lease; when it stops renewing
    (the process died), another process takes the lease once it has expired."""

    __tablename__ = "scheduler_leases"

    name = db.Column(db.String(32), primary_key=True)
    holder = db.Column(db.String(120), nullable=False)
    acquired_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)


class JobRun(db.Model):
    """One run of a job: when, by which process, how it ended, what it did."""

    __tablename__ = "job_runs"

    id = db.Column(db.Integer, primary_key=True)
    job = db.Column(db.String(32), nullable=False)
    trigger = db.Column(db.String(16), nullable=False)  # schedule | manual | cli
    holder = db.Column(db.String(120), nullable=False)
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime)
    # running | ok | error | interrupted (its process died and another took the lease)
    outcome = db.Column(db.String(12), nullable=False, default="running")
    counts_json = db.Column(db.Text, nullable=False, default="{}")
    error = db.Column(db.Text)
    # Who asked for a manual run (a staff member's email); None for scheduled runs.
    requested_by = db.Column(db.String(254))

    __table_args__ = (db.Index("ix_job_runs_job_id", "job", "id"),)

    @property
    def counts(self):
        return json.loads(self.counts_json or "{}")

    @property
    def seconds(self):
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
