"""/jobs/: everyone reads the jobs, their recent runs and who holds the lease; managers
run a job now and preview the next recovery run; viewers and agents cannot."""

import json
import os
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.audit.models import AuditEvent
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.outbox.models import OutboxMessage
from dashboard.timeutil import utcnow
from tests.helpers import wait_for

HOLDER = "web-2:4242:c0ffee"


def section(page, job):
    """The HTML of one job's card on /jobs/."""
    match = re.search(rf'<section[^>]*aria-labelledby="job-{job}".*?</section>', page, re.S)
    assert match, f"no section for the {job} job"
    return match.group(0)


def add_run(app, job, minutes_ago, outcome="ok", counts=None, error=None, trigger="schedule"):
    started = utcnow() - timedelta(minutes=minutes_ago)
    with app.app_context():
        db.session.add(
            JobRun(
                job=job,
                trigger=trigger,
                holder=HOLDER,
                started_at=started,
                finished_at=started + timedelta(seconds=2),
                outcome=outcome,
                counts_json=json.dumps(counts or {}),
                error=error,
            )
        )
        db.session.commit()


def count(app, *what):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(*what))


def test_a_viewer_sees_each_job_its_recent_runs_and_the_lease_holder(app, client, login):
    with app.app_context():
        assert lease.try_acquire(HOLDER, 30)
    add_run(app, "recovery", 10, counts={"queued": 12, "step_1": 12})
    add_run(app, "recovery", 5, outcome="error", error="OperationalError: database is locked")
    for minute in range(25):
        add_run(app, "delivery", 60 - minute, counts={"sent": 100 + minute})
    login("viewer")

    page = client.get("/jobs/").text

    assert f'Runs in process <span class="font-monospace">{HOLDER}</span>' in page
    for job, title in [("recovery", "Recovery emails"), ("delivery", "Outbox delivery")]:
        assert title in section(page, job)
    assert "Clean-up" in section(page, "cleanup")
    assert "No runs yet." in section(page, "cleanup")

    recovery = section(page, "recovery")
    assert re.search(r"queued</span> 12\b", recovery)
    assert "OperationalError: database is locked" in recovery
    assert recovery.count(HOLDER) == 2

    delivery = section(page, "delivery")
    shown = [int(n) for n in re.findall(r"sent</span> (\d+)", delivery)]
    assert shown == list(range(124, 104, -1))  # the 20 latest, newest first

    assert "Run now" not in page  # a viewer changes nothing
    assert "Preview the next recovery run" not in page


def test_the_page_says_when_no_process_holds_the_lease(client, login):
    login("agent")

    page = client.get("/jobs/").text

    assert "No process holds the scheduler lease" in page


def test_a_manager_runs_a_job_now_and_its_run_appears(app, client, login, due_carts):
    due_carts(3)
    login("manager")
    assert "Run now" in section(client.get("/jobs/").text, "recovery")

    response = client.post("/jobs/recovery/run")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/jobs/")
    # Recorded before the answer, however late its thread starts: the page shown next
    # lists the run (and refreshes itself until it ends).
    with app.app_context():
        (started,) = db.session.scalars(select(JobRun)).all()
        assert (started.job, started.requested_by) == ("recovery", "manager@example.com")
        db.session.remove()

    def finished_run():
        with app.app_context():
            run = db.session.scalar(select(JobRun).where(JobRun.outcome != "running"))
            db.session.remove()
            return run

    run = wait_for(finished_run, 10, "the manual run to finish")
    assert (run.job, run.trigger, run.outcome) == ("recovery", "manual", "ok")
    assert json.loads(run.counts_json) == {"queued": 3, "step_1": 3}
    assert run.holder.split(":")[1] == str(os.getpid())  # ran in this process
    assert count(app, OutboxMessage) == 3

    page = client.get("/jobs/").text
    assert "Recovery emails started" in page
    assert '<td class="small">Run now by manager@example.com</td>' in section(page, "recovery")
    # Starting a run is a change a person made: the audit log says who.
    with app.app_context():
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "job.run_now"))
        assert (event.actor_label, event.details["job"]) == ("manager@example.com", "recovery")


def test_running_an_unknown_job_is_not_found(client, login):
    login("manager")

    assert client.post("/jobs/no-such-job/run").status_code == 404


def test_the_recovery_preview_lists_what_the_next_run_would_send_and_changes_nothing(
    app, client, login, due_carts, make_incomplete_order
):
    due = due_carts(3)
    make_incomplete_order(snapshot_at=utcnow() - timedelta(minutes=10))  # not quiet long enough
    make_incomplete_order(email=None, snapshot_at=utcnow() - timedelta(days=2))  # no address
    login("manager")

    page = client.get("/jobs/recovery/preview").text

    assert "The next recovery run would send 3 emails" in page
    assert "Nothing was sent or changed." in page
    rows = re.findall(r"<tr><td><a [^>]*>#(\d+)</a></td><td>([^<]+)</td><td>(\d+)</td></tr>", page)
    assert sorted(rows) == sorted((str(i), email, "1") for i, email in due.items())

    assert count(app, OutboxMessage) == 0
    assert count(app, JobRun) == 0
    with app.app_context():
        attempts = db.session.scalars(select(IncompleteOrder.recovery_attempts)).all()
        sends = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recovery.send")
        ).all()
    assert set(attempts) == {0}
    assert sends == []


def test_run_now_shows_what_the_run_would_do_before_it_runs(app, client, login, due_carts):
    """A manager's "Run now" first says how many emails would go, per step, to whom and
    how stale; the run starts only from the confirm button."""
    due = due_carts(3)
    due_carts(1, days=6)  # the longest-quiet cart, still inside the recovery window
    login("manager")

    page = client.get("/jobs/recovery/run").text

    assert "A run now would queue <strong>4 recovery emails</strong>" in page
    # The long-quiet cart gets its latest due step only.
    assert "step 1: 3, step 3: 1." in page
    assert "€240.00" in page  # 4 carts of €60.00
    assert all(email in page for email in due.values())
    assert 'action="/jobs/recovery/run"' in page and "Run recovery emails now" in page
    assert count(app, OutboxMessage) == 0 and count(app, JobRun) == 0


def test_run_now_previews_clean_up_and_delivery_too(app, client, login, due_carts):
    due_carts(2, days=40)  # quiet longer than EXPIRE_AFTER_DAYS (30)
    login("manager")

    cleanup = client.get("/jobs/cleanup/run").text
    assert "would expire <strong>2</strong> open carts" in cleanup
    assert "delete <strong>0</strong>" in cleanup
    delivery = client.get("/jobs/delivery/run").text
    assert "No email is waiting" in delivery
    assert count(app, JobRun) == 0
    with app.app_context():
        assert set(db.session.scalars(select(IncompleteOrder.status))) == {"open"}


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_only_managers_run_jobs_or_preview(app, client, login, due_carts, role):
    due_carts(1)
    login(role)

    assert client.get("/jobs/recovery/run").status_code == 403

    assert client.post("/jobs/recovery/run").status_code == 403
    assert client.post("/jobs/delivery/run").status_code == 403
    assert client.get("/jobs/recovery/preview").status_code == 403

    assert count(app, JobRun) == 0
    assert count(app, OutboxMessage) == 0


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for response in (client.get("/jobs/"), client.post("/jobs/recovery/run")):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_a_running_run_refreshes_the_page_until_it_ends(app, client, login):
    add_run(app, "recovery", 1, outcome="running")
    login("viewer")
    page = client.get("/jobs/").text
    assert 'hx-trigger="every 2s"' in page and "Running…" in page
    with app.app_context():
        run = db.session.scalar(select(JobRun))
        run.outcome = "ok"
        db.session.commit()
    page = client.get("/jobs/").text
    assert 'hx-trigger="every 2s"' not in page and "Done" in page
