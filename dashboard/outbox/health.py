"""Is email going out? What the overview and the outbox warn managers about.

Three ways recovery emails silently stop: no process runs the scheduled jobs, the mail
server refuses what is sent, or the outbox fills up faster than it empties.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.outbox.models import OutboxMessage
from dashboard.timeutil import utcnow

BACKLOG_MINUTES = 10
FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class MailProblem:
    level: str  # danger | warning | info
    message: str
    what_to_do: str
    link: str | None = None


def recent_failures(now):
    """How many emails queued in the last hour failed, and one of their errors: read on an
    index of its own (migration 0023), as the outbox keeps every email ever sent."""
    return select(func.count(), func.max(OutboxMessage.last_error)).where(
        OutboxMessage.status == "failed", OutboxMessage.created_at >= now - FAILURE_WINDOW
    )


def mail_problems(now=None):
    """What is wrong with sending email right now, most serious first; [] when all is well.
    Three indexed reads."""
    now = now or utcnow()
    problems = []
    holder = lease.current()
    if not current_app.config["SCHEDULER_ENABLED"]:
        problems.append(
            MailProblem(
                "info",
                "Scheduled jobs are off here (SCHEDULER_ENABLED is false): recovery emails "
                "go out only when someone runs them.",
                "Run them from Jobs, or start the web processes with SCHEDULER_ENABLED=true.",
                url_for("jobs.list_jobs"),
            )
        )
    elif holder is None or holder.expires_at < now:
        problems.append(
            MailProblem(
                "danger",
                "No process is running the scheduled jobs: recovery emails are not being "
                "queued or sent.",
                "Check that the web processes are up; one of them takes the jobs over "
                "within a minute of starting.",
                url_for("jobs.list_jobs"),
            )
        )
    failed, last_error = db.session.execute(recent_failures(now)).one()
    if failed:
        problems.append(
            MailProblem(
                "danger",
                f"{failed:,} email{'s' if failed != 1 else ''} failed in the last hour "
                f"(for example: {last_error}).",
                "Check the mail server settings (MAIL_SERVER and its account), then retry "
                "them from the outbox.",
                url_for("outbox.list_messages", status="failed"),
            )
        )
    waiting, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status.in_(("queued", "sending")),
            OutboxMessage.next_attempt_at < now - timedelta(minutes=BACKLOG_MINUTES),
        )
    ).one()
    if waiting:
        problems.append(
            MailProblem(
                "warning",
                f"{waiting:,} email{'s have' if waiting != 1 else ' has'} waited more than "
                f"{BACKLOG_MINUTES} minutes to go out.",
                "The delivery job may be stopped or the mail server slow to answer: see "
                "its recent runs on Jobs.",
                url_for("jobs.list_jobs"),
            )
        )
    return problems
