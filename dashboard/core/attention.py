"""What needs a manager's attention now, for the overview: return requests past their
clocks, emails that failed, email that is not going out, and the biggest open carts.

Each figure is one bounded, indexed read (counts stop at listing.COUNT_CAP), and each one
that a list can hold links to the list holding exactly those rows.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.listing import Count, count_rows
from dashboard.outbox.health import BACKLOG_MINUTES
from dashboard.outbox.models import OutboxMessage
from dashboard.returns.models import ReturnRequest
from dashboard.returns.queries import age_text, decision_overdue, ship_by_overdue
from dashboard.returns.rules import decision_sla
from dashboard.timeutil import utcnow

LEVELS = ("danger", "warning", "info")
TOP_CARTS = 5
FEW_OPEN = 1000
# The delivery job runs every DELIVERY_RUN_SECONDS; this many missed runs (and at least the
# outbox's backlog warning) before its silence is worth a manager's attention.
MISSED_DELIVERY_RUNS = 3


@dataclass(frozen=True)
class Attention:
    """One thing that needs attention: `count` of them (None when it is a state, not rows),
    what they are, the page that holds them, and what to do."""

    name: str
    level: str  # danger | warning | info
    count: Count | None
    text: str
    link: str
    link_text: str
    what_to_do: str = ""
    # True when `link` lists exactly the `count` rows (the count itself is then the link).
    exact: bool = True
    # Further pages that help, as (text, url) pairs.
    more: tuple = ()


def needs_attention(now=None):
    """Everything that needs attention now, most serious first; [] when nothing does."""
    now = now or utcnow()
    items = [*_email_not_going_out(now), *_failed_emails(), *_late_returns(now)]
    return sorted(items, key=lambda item: LEVELS.index(item.level))


def _plural(count, one, many):
    return one if count.value == 1 and not count.capped else many


def _late_returns(now):
    items = []
    late = count_rows(
        db.session, select(ReturnRequest).where(decision_overdue(now)), ReturnRequest.id
    )
    if late.value:
        hours = int(decision_sla().total_seconds() // 3600)
        items.append(
            Attention(
                "returns_decision",
                "warning",
                late,
                f"return {_plural(late, 'request has', 'requests have')} waited longer than "
                f"{hours} h for a decision",
                url_for("returns.list_requests", status="pending", overdue="decision"),
                "Late decisions",
                "Approve or reject them, oldest first.",
            )
        )
    parcels = count_rows(
        db.session, select(ReturnRequest).where(ship_by_overdue(now)), ReturnRequest.id
    )
    if parcels.value:
        items.append(
            Attention(
                "returns_ship_by",
                "warning",
                parcels,
                f"approved {_plural(parcels, 'return is', 'returns are')} not back by "
                f"{_plural(parcels, 'its', 'their')} ship-by date",
                url_for("returns.list_requests", status="approved", overdue="ship_by"),
                "Late parcels",
                "Mark a parcel received when it arrives, or ask the customer about it.",
            )
        )
    return items


def _failed_emails():
    failed = count_rows(
        db.session, select(OutboxMessage).where(OutboxMessage.status == "failed"), OutboxMessage.id
    )
    if not failed.value:
        return []
    return [
        Attention(
            "failed_emails",
            "danger",
            failed,
            f"{_plural(failed, 'email', 'emails')} failed and {_plural(failed, 'was', 'were')} "
            "not delivered",
            url_for("outbox.list_messages", status="failed"),
            "Failed emails",
            "Check the mail server settings (MAIL_SERVER and its account), then a manager "
            "retries them from the outbox.",
        )
    ]


def _email_not_going_out(now):
    """The scheduler: nobody holds the lease, or the delivery job stopped running, or
    emails wait past their time in the outbox."""
    items = []
    holder = lease.current()
    jobs = url_for("jobs.list_jobs")
    if holder is None or holder.expires_at <= now:
        # The lease says whether any process runs the jobs, whatever this one's setting.
        if current_app.config["SCHEDULER_ENABLED"]:
            items.append(
                Attention(
                    "scheduler",
                    "danger",
                    None,
                    "No process is running the scheduled jobs: recovery emails are not being "
                    "queued or sent.",
                    jobs,
                    "Jobs",
                    "Check that the web processes are up; one of them takes the jobs over "
                    "within a minute of starting.",
                )
            )
        else:
            items.append(
                Attention(
                    "scheduler",
                    "info",
                    None,
                    "Scheduled jobs are off here (SCHEDULER_ENABLED is false) and no process "
                    "runs them: recovery emails go out only when someone runs them.",
                    jobs,
                    "Jobs",
                    "Run them from Jobs, or start the web processes with SCHEDULER_ENABLED=true.",
                )
            )
    else:
        stalled = _stalled_delivery(now)
        if stalled:
            items.append(stalled)
    waiting = count_rows(
        db.session,
        select(OutboxMessage).where(
            OutboxMessage.status.in_(("queued", "sending")),
            OutboxMessage.next_attempt_at < now - timedelta(minutes=BACKLOG_MINUTES),
        ),
        OutboxMessage.id,
    )
    if waiting.value:
        items.append(
            Attention(
                "backlog",
                "warning",
                waiting,
                f"{_plural(waiting, 'email has', 'emails have')} waited more than "
                f"{BACKLOG_MINUTES} minutes past {_plural(waiting, 'its', 'their')} time to go "
                "out",
                url_for("outbox.list_messages", status="queued"),
                "Queued emails",
                "The delivery job may be stopped or the mail server slow to answer: see its "
                "recent runs.",
                # The outbox lists every queued email, not only the late ones.
                exact=False,
                more=(("Jobs", url_for("jobs.list_jobs")),),
            )
        )
    return items


def _stalled_delivery(now):
    """The lease is held, but the delivery job has not started for a while, or its last
    run failed. A scheduler that never ran it yet (just installed, or just started: its
    first run comes one interval after the start) is left to the backlog check."""
    every = current_app.config["DELIVERY_RUN_SECONDS"]
    quiet = max(timedelta(seconds=every * MISSED_DELIVERY_RUNS), timedelta(minutes=BACKLOG_MINUTES))
    last = db.session.scalar(
        select(JobRun).where(JobRun.job == "delivery").order_by(JobRun.id.desc()).limit(1)
    )
    jobs = url_for("jobs.list_jobs")
    if last is None:
        return None
    if last.started_at < now - quiet:
        return Attention(
            "delivery",
            "danger",
            None,
            f"The outbox delivery job last ran {age_text(now, last.started_at)} ago (it runs "
            f"every {every:,} s): emails are not going out.",
            jobs,
            "Jobs",
            "The process holding the scheduler's lease may be stuck: restart it, or run the "
            "delivery from Jobs.",
        )
    if last.outcome == "error":
        return Attention(
            "delivery",
            "warning",
            None,
            f"The last outbox delivery run ended with an error: {last.error}",
            jobs,
            "Jobs",
            "See the run on Jobs; the next run tries again.",
        )
    return None


def most_valuable_open_carts(limit=TOP_CARTS):
    """The open carts worth most, biggest first, as the list sorted by value shows them.

    Few open carts (up to FEW_OPEN) are read through the status index and the biggest
    picked from them; with more, the value index read backwards meets `limit` open ones
    soon. Either way a shop whose carts are nearly all closed is not read in full.
    """
    is_open = IncompleteOrder.status == "open"
    biggest = select(IncompleteOrder).order_by(
        IncompleteOrder.subtotal.desc(), IncompleteOrder.id.desc()
    )
    few = db.session.execute(
        select(IncompleteOrder.id, IncompleteOrder.subtotal).where(is_open).limit(FEW_OPEN + 1)
    ).all()
    if len(few) > FEW_OPEN:
        return db.session.scalars(biggest.where(is_open).limit(limit)).all()
    ids = [row.id for row in sorted(few, key=lambda row: (-row.subtotal, -row.id))[:limit]]
    if not ids:
        return []
    return db.session.scalars(biggest.where(IncompleteOrder.id.in_(ids))).all()
