"""Running jobs and the scheduler: every run is recorded, the scheduler starts only in a
serving process, only the lease holder runs the jobs — and, with three real processes on
one database, every due email goes out exactly once, also when the holder is killed."""

import atexit
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import click
from sqlalchemy import select, text

from config import TestConfig
from dashboard import create_app
from dashboard.audit.models import AuditEvent
from dashboard.audit.service import Actor, record
from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.jobs.registry import registered_jobs
from dashboard.jobs.runner import run_job
from dashboard.jobs.scheduler import Scheduler, should_start
from dashboard.outbox.models import OutboxMessage
from dashboard.timeutil import utcnow
from tests.helpers import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROCESS_SCRIPT = Path(__file__).with_name("scheduler_process.py")


def job_runs(app, **where):
    """The recorded runs, oldest first (detached, columns loaded)."""
    with app.app_context():
        runs = db.session.scalars(select(JobRun).filter_by(**where).order_by(JobRun.id)).all()
        db.session.remove()
        return runs


def lease_holder(app):
    with app.app_context():
        held = lease.current()
        holder = held.holder if held else None  # current() commits: this reads it again
        db.session.remove()
        return holder


# --------------------------------------------------------------------------- run_job


def test_a_run_is_recorded_with_its_trigger_holder_times_and_counts(ctx, due_carts):
    due_carts(3)
    before = utcnow()

    run = run_job("recovery", "cli", "host:1:test")

    db.session.expire_all()
    stored = db.session.get(JobRun, run.id)
    assert (stored.job, stored.trigger, stored.holder) == ("recovery", "cli", "host:1:test")
    assert stored.outcome == "ok" and stored.error is None
    assert stored.counts == {"queued": 3, "step_1": 3}
    assert before <= stored.started_at <= stored.finished_at <= utcnow()
    assert stored.seconds >= 0


def test_a_delivery_run_counts_what_the_mail_server_took(ctx, due_carts, smtp_server):
    due_carts(4)
    run_job("recovery", "schedule", "host:1:test")

    run = run_job("delivery", "schedule", "host:1:test")

    assert run.outcome == "ok"
    assert run.counts == {"sent": 4, "retry": 0, "failed": 0, "withdrawn": 0}
    assert len(smtp_server.messages) == 4


def test_a_failing_job_is_recorded_as_an_error_and_the_next_run_works(ctx, due_carts, monkeypatch):
    def broken():
        # Half done, then a database error that leaves the transaction unusable.
        record(Actor.system("broken"), "broken.half_done")
        db.session.flush()
        db.session.execute(text("SELECT * FROM no_such_table"))

    jobs = registered_jobs()
    monkeypatch.setitem(jobs, "recovery", dataclasses.replace(jobs["recovery"], run=broken))
    due_carts(2)

    failed = run_job("recovery", "schedule", "host:1:test")

    assert failed.outcome == "error"
    assert "no_such_table" in failed.error
    assert failed.counts == {}
    assert failed.finished_at is not None
    half_done = select(AuditEvent).where(AuditEvent.action == "broken.half_done")
    assert db.session.scalars(half_done).all() == []  # its writes were rolled back

    monkeypatch.undo()
    again = run_job("recovery", "schedule", "host:1:test")

    assert again.outcome == "ok"
    assert again.counts == {"queued": 2, "step_1": 2}
    outcomes = db.session.scalars(select(JobRun.outcome).order_by(JobRun.id)).all()
    assert outcomes == ["error", "ok"]


# --------------------------------------------------------------------------- should_start


def test_the_scheduler_never_starts_in_the_test_suite(app):
    class Enabled(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        SCHEDULER_ENABLED = True

    assert "reclaim_scheduler" not in app.extensions
    assert not should_start(app)

    enabled = create_app(Enabled)  # testing wins over SCHEDULER_ENABLED

    assert "reclaim_scheduler" not in enabled.extensions
    assert not [t for t in threading.enumerate() if t.name == "APScheduler"]
    with enabled.app_context():
        db.engine.dispose()


def test_should_start_only_when_enabled_and_serving(app, monkeypatch):
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)

    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", False)
    assert not should_start(app)

    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    assert should_start(app)  # gunicorn or any WSGI server importing wsgi.py


def test_should_start_in_flask_run_but_not_in_other_commands(app, monkeypatch):
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")

    with click.Context(click.Command("send-recovery-emails"), info_name="send-recovery-emails"):
        assert not should_start(app)
    with click.Context(click.Command("run"), info_name="run"):
        assert should_start(app)


# --------------------------------------------------------------------------- the lease guard


def test_only_the_lease_holder_runs_a_scheduled_tick(app):
    first, second = Scheduler(app), Scheduler(app)  # not started: no threads
    first.renew_lease()
    second.renew_lease()

    second.tick("delivery")
    assert job_runs(app) == []

    first.tick("delivery")
    assert [(r.holder, r.trigger) for r in job_runs(app)] == [(first.holder, "schedule")]

    first.stop()  # releases the lease: the other takes it at its next renewal
    second.renew_lease()
    second.tick("delivery")
    assert [r.holder for r in job_runs(app)] == [first.holder, second.holder]


def test_a_started_scheduler_holds_the_lease_runs_jobs_and_lets_go_when_stopped(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_LEASE_SECONDS", 3)
    monkeypatch.setitem(app.config, "DELIVERY_RUN_SECONDS", 1)
    scheduler = Scheduler(app).start()
    try:
        assert lease_holder(app) == scheduler.holder
        assert set(scheduler.next_runs()) == {"recovery", "delivery", "cleanup", "analytics"}
        run = wait_for(lambda: job_runs(app, job="delivery", outcome="ok"), 10, "a delivery run")[0]
        assert (run.holder, run.trigger) == (scheduler.holder, "schedule")
    finally:
        scheduler.scheduler.shutdown(wait=True)  # no run may outlive the test
        scheduler.stop()
        atexit.unregister(scheduler.stop)

    assert lease_holder(app) is None
    assert not [t for t in threading.enumerate() if t.name == "APScheduler"]


# --------------------------------------------------------------------------- many processes

LEASE_SECONDS = 5  # renewed every second: a busy machine can delay a renewal a little
RENEW_SECONDS = max(1, LEASE_SECONDS // 3)  # as Scheduler renews
FIRST_WAVE, SECOND_WAVE = 300, 100
# <outbox-<row id>.recovery.<cart id>.<step>@domain>, see dashboard/outbox/mailer.py
RECOVERY_MESSAGE_ID = re.compile(r"<outbox-\d+\.recovery\.(\d+)\.(\d+)@")


class SchedulerProcesses:
    """Web processes, each running its scheduler (tests/jobs/scheduler_process.py)
    against one database, delivering to one SMTP server."""

    def __init__(self, database_url, smtp_server, log_dir):
        self.env = {
            **os.environ,
            "RECLAIM_ENV": "development",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "multi-process-test-secret",
            "SCHEDULER_ENABLED": "1",
            "SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
            "RECOVERY_RUN_SECONDS": "1",
            "DELIVERY_RUN_SECONDS": "1",
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": smtp_server.host,
            "MAIL_PORT": str(smtp_server.port),
            "MAIL_TIMEOUT_SECONDS": "5",
        }
        self.env.pop("FLASK_RUN_FROM_CLI", None)
        self.log_dir = log_dir
        self.processes = {}  # pid -> Popen

    def start(self, count):
        for n in range(count):
            with open(self.log_dir / f"process-{n}.log", "wb") as log:
                process = subprocess.Popen(
                    [sys.executable, str(PROCESS_SCRIPT)],
                    cwd=PROJECT_ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.processes[process.pid] = process

    def ready(self):
        """All started and idling, each with its scheduler running."""
        for process in self.processes.values():
            if process.poll() is not None:
                raise AssertionError(f"process {process.pid} exited:\n{self.logs()}")
        return all("ready " in log.read_text() for log in self.log_dir.glob("process-*.log"))

    def alive(self):
        return [pid for pid, p in self.processes.items() if p.poll() is None]

    def kill(self, pid):
        os.kill(pid, signal.SIGKILL)
        self.processes[pid].wait(timeout=10)

    def stop_all(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self):
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
            for log in sorted(self.log_dir.glob("process-*.log"))
        )


@contextmanager
def scheduler_processes(app, smtp_server, log_dir, count):
    processes = SchedulerProcesses(app.config["SQLALCHEMY_DATABASE_URI"], smtp_server, log_dir)
    try:
        processes.start(count)
        wait_for(processes.ready, 30, f"{count} processes to start their schedulers")
        yield processes
    except BaseException:
        print(processes.logs())  # shown with the failure
        raise
    finally:
        processes.stop_all()


def pid_of(holder):
    return int(holder.split(":")[1])  # host:pid:random, see lease.process_identity


def recovery_emails_received(smtp_server):
    """How many times each (recipient, cart id, step) arrived."""
    received = Counter()
    for _, recipients, message in list(smtp_server.received):
        cart_id, step = RECOVERY_MESSAGE_ID.match(message["Message-ID"]).groups()
        for recipient in recipients:
            received[(recipient, int(cart_id), int(step))] += 1
    return received


def all_sent(app, expected):
    with app.app_context():
        sent = db.session.scalar(select(db.func.count()).where(OutboxMessage.status == "sent"))
        db.session.remove()
        return sent == expected


def assert_one_run_at_a_time(runs, dead_holder, died_at):
    """Runs of the same job never overlap in time, whichever process ran them.

    A run the killed process never finished ended when it died; one still going in a
    live process lasts until now.
    """
    now = utcnow()
    for job in {run.job for run in runs}:
        spans = sorted(
            (
                run.started_at,
                run.finished_at or (died_at if run.holder == dead_holder else now),
                run.holder,
            )
            for run in runs
            if run.job == job
        )
        for (_, end, holder), (start, _, next_holder) in pairwise(spans):
            assert end <= start, f"{job} runs of {holder} and {next_holder} overlap"


def test_three_processes_send_each_due_email_once_and_survive_the_holder_dying(
    app, smtp_server, due_carts, tmp_path
):
    first_wave = due_carts(FIRST_WAVE)  # committed before any process starts
    expected = {(email, cart_id, 1): 1 for cart_id, email in first_wave.items()}

    with scheduler_processes(app, smtp_server, tmp_path, count=3) as processes:
        # Every due email arrives, once, and only the lease holder ran the jobs.
        wait_for(lambda: len(smtp_server.received) >= FIRST_WAVE, 30, f"{FIRST_WAVE} emails")
        wait_for(lambda: all_sent(app, FIRST_WAVE), 10, "the outbox to be marked sent")
        time.sleep(2)  # a duplicate would have a few delivery runs to show up in
        assert recovery_emails_received(smtp_server) == expected
        holder = lease_holder(app)
        assert {run.holder for run in job_runs(app)} == {holder}
        assert {run.job for run in job_runs(app, outcome="ok")} >= {"recovery", "delivery"}

        # The holder dies without a word; another process takes over once its lease
        # runs out, and picks up the work that comes in after.
        processes.kill(pid_of(holder))
        died_at, died = utcnow(), time.monotonic()
        second_wave = due_carts(SECOND_WAVE)
        expected |= {(email, cart_id, 1): 1 for cart_id, email in second_wave.items()}

        def another_holder():
            current = lease_holder(app)
            return current if current not in (None, holder) else None

        successor = wait_for(
            another_holder,
            LEASE_SECONDS + RENEW_SECONDS + 5,
            "another process to take the lease",
        )
        took_over = time.monotonic() - died
        assert pid_of(successor) in processes.alive()
        assert took_over <= LEASE_SECONDS + RENEW_SECONDS + 2
        wait_for(
            lambda: [r for r in job_runs(app, holder=successor) if r.started_at > died_at],
            5,
            "a run by the new holder",
        )

        total = FIRST_WAVE + SECOND_WAVE
        wait_for(lambda: len(smtp_server.received) >= total, 30, f"{total} emails")
        wait_for(lambda: all_sent(app, total), 10, "the outbox to be marked sent")
        time.sleep(2)
        assert recovery_emails_received(smtp_server) == expected

        runs = job_runs(app)
        assert_one_run_at_a_time(runs, holder, died_at)
        assert [r for r in runs if r.outcome == "error"] == []
        assert {r.holder for r in runs if r.started_at > died_at} == {successor}
