"""The scheduler lease: one holder at a time, renewed by its holder, taken over once it
has expired, handed over at once when released — on SQLite and PostgreSQL alike."""

import os
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.jobs.models import JobRun
from dashboard.timeutil import utcnow

TTL = 30


def seconds(n):
    return timedelta(seconds=n)


def test_the_first_process_takes_the_lease(ctx):
    now = utcnow()

    assert lease.current() is None
    assert lease.try_acquire("host:101:a", TTL, now=now)

    held = lease.current()
    assert held.holder == "host:101:a"
    assert held.expires_at == now + seconds(TTL)
    assert lease.holds("host:101:a", now=now)


def test_a_second_process_cannot_take_a_valid_lease(ctx):
    now = utcnow()
    assert lease.try_acquire("host:101:a", TTL, now=now)

    assert not lease.try_acquire("host:102:b", TTL, now=now + seconds(TTL - 1))

    assert lease.current().holder == "host:101:a"
    assert not lease.holds("host:102:b", now=now + seconds(1))


def test_the_holder_renews_its_lease(ctx):
    now = utcnow()
    assert lease.try_acquire("host:101:a", TTL, now=now)

    assert lease.try_acquire("host:101:a", TTL, now=now + seconds(20))

    assert lease.current().expires_at == now + seconds(20 + TTL)
    # Renewed, so still valid past the first expiry: the other process keeps waiting.
    assert not lease.try_acquire("host:102:b", TTL, now=now + seconds(TTL + 5))
    assert lease.holds("host:101:a", now=now + seconds(TTL + 5))


def test_another_process_takes_over_an_expired_lease(ctx):
    now = utcnow()
    assert lease.try_acquire("host:101:a", TTL, now=now)
    later = now + seconds(TTL + 1)

    assert not lease.holds("host:101:a", now=later)
    assert lease.try_acquire("host:102:b", TTL, now=later)

    assert lease.current().holder == "host:102:b"
    assert lease.holds("host:102:b", now=later)
    # The old holder, back from a long pause, cannot renew what it lost.
    assert not lease.try_acquire("host:101:a", TTL, now=later + seconds(1))


def test_taking_over_ends_the_runs_the_old_holder_left_running(ctx):
    now = utcnow()
    assert lease.try_acquire("host:101:a", TTL, now=now)
    for holder in ("host:101:a", "host:103:c"):  # c: a manager's "run now" elsewhere
        db.session.add(JobRun(job="recovery", trigger="schedule", holder=holder, started_at=now))
    db.session.commit()

    assert lease.try_acquire("host:101:a", TTL, now=now + seconds(10))  # renewing: no change
    assert {r.outcome for r in db.session.scalars(select(JobRun))} == {"running"}

    later = now + seconds(10 + TTL + 1)
    assert lease.try_acquire("host:102:b", TTL, now=later)
    runs = {run.holder: run for run in db.session.scalars(select(JobRun))}
    dead = runs["host:101:a"]
    assert (dead.outcome, dead.finished_at) == ("interrupted", later)
    assert dead.error == "host:101:a stopped renewing the scheduler lease; host:102:b took over"
    assert runs["host:103:c"].outcome == "running"


def test_a_released_lease_lets_another_in_at_once(ctx):
    now = utcnow()
    assert lease.try_acquire("host:101:a", TTL, now=now)

    lease.release("host:101:a")

    assert lease.current() is None
    assert lease.try_acquire("host:102:b", TTL, now=now + seconds(1))
    assert lease.current().holder == "host:102:b"


def test_only_the_holder_can_release(ctx):
    now = utcnow()
    assert lease.try_acquire("host:101:a", TTL, now=now)

    lease.release("host:102:b")

    assert lease.current().holder == "host:101:a"


def test_the_process_identity_names_host_and_pid_and_is_unique():
    first, second = lease.process_identity(), lease.process_identity()

    host, pid, _ = first.split(":")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert first != second  # two schedulers in one process are still two holders


@pytest.mark.parametrize("expired", [False, True], ids=["no lease yet", "expired lease"])
def test_of_processes_racing_for_the_lease_exactly_one_wins(app, expired):
    racers = 6
    now = utcnow()
    if expired:
        with app.app_context():
            assert lease.try_acquire("host:100:old", TTL, now=now - seconds(TTL + 1))
    barrier = threading.Barrier(racers)
    winners = []

    def race(n):
        # An app context per thread: its own session and connection, like a process.
        with app.app_context():
            barrier.wait()
            if lease.try_acquire(f"host:{200 + n}:x", TTL, now=now):
                winners.append(f"host:{200 + n}:x")
            db.session.remove()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(winners) == 1
    with app.app_context():
        assert lease.current().holder == winners[0]
