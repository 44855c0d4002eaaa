"""Each benchmark in bench/ runs end to end at a tiny size and prints its whole report, so
a change in the app that breaks a benchmark (a renamed function, a moved route, another
answer) fails here instead of on the next person who benchmarks.

The benchmarks run as their READMEs say, in a process of their own, on SQLite. The
numbers at these sizes mean nothing and are not checked; exit code 1 (a target missed)
is fine, 2 (could not run, or a check failed) is not.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench(script, *args, timeout=120):
    """Run bench/`script` with `args`; returns its report (stdout)."""
    env = dict(os.environ)
    # A fresh SQLite database in a temp dir, and the app's own defaults otherwise.
    for name in ("DATABASE_URL", "SQLITE_BACKGROUND_CHECKPOINTS"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode in (0, 1), f"exit code {done.returncode}\n{done.stderr[-3000:]}"
    return done.stdout


def first_cells(report):
    """The first cell of every table row, header rows left out."""
    cells = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    return [
        cell
        for cell in cells
        if cell not in ("scenario", "part", "library") and not cell.startswith("---")
    ]


def test_workspace_benchmark_times_every_scenario():
    report = bench("bench_workspace.py", "--orders", "300", "--repeat", "1")

    rows = first_cells(report)
    assert rows[:6] == [
        "list first page",
        "open, last 30 days",
        "search email fragment",
        "deepest page",
        "sorted by value",
        "detail page",
    ]
    assert re.fullmatch(r"bulk expire \d+ ids", rows[6])
    assert re.fullmatch(r"bulk expire all matching ~\d+", rows[7])
    assert rows[8:] == ["worker peak memory (VmHWM)"]
    assert "Database: SQLite  ·  orders: 300" in report
    assert "the email it came from was on the first result page 1/1 times" in report


def test_ingest_benchmark_checks_what_the_database_holds():
    report = bench(
        "bench_ingest.py",
        *("--orders", "0", "--requests", "20", "--warmup", "5", "--concurrency", "1", "2"),
    )

    assert first_cells(report) == [
        "PUT cart snapshot, 1 connection",
        "PUT cart snapshot, 2 connections",
    ]
    # Each scenario says what the machine's CPUs did meanwhile: a slow run explains itself.
    machine = re.findall(r"machine's CPUs \d+% busy, \d+\.\d% stolen by the hypervisor", report)
    assert len(machine) == 2, report
    checks = report.split("Checks (SQL, after the run):")[1].strip().splitlines()
    assert len(checks) == 4
    assert "50 requests in all (warm-ups included)" in checks[0]
    assert checks[0].endswith(", 0 failed")
    assert all(line.endswith(": ok") for line in checks[1:]), checks


def test_recovery_benchmark_queues_and_delivers_every_email():
    report = bench("bench_recovery.py", "--carts", "20", "--messages", "10")

    rows = first_cells(report)
    assert rows[:2] == ["recovery run, 20 due carts", "outbox delivery, 10 emails"]
    assert "Where the time of the recovery run, 20 due carts goes:" in report
    assert "Where the time of the outbox delivery, 10 emails goes:" in report
    # Every function the breakdown times was called (the benchmark fails otherwise).
    for part in ("outbox_row()", "recovery_email() (templates, tokens, links)", "COMMIT"):
        assert part in rows


def test_ingest_profile_names_the_parts_of_a_request():
    report = bench(
        "profile_ingest.py", "--orders", "0", "--requests", "10", "--warmup", "2", "--top", "3"
    )

    assert "### SQLite: where the time of one PUT goes (10 PUTs in-process)" in report
    rows = first_cells(report)
    for part in ("authenticate(): key lookup", "apply_snapshot(): the cart and its items"):
        assert part in rows
    assert "### cProfile: own time by library" in report


def test_ingest_profile_counts_the_instructions_of_a_put():
    # Two short runs under valgrind (its start-up is most of the time).
    report = bench(
        "profile_ingest.py",
        *("--instructions", "--orders", "0", "--requests", "10", "--warmup", "3"),
        timeout=300,
    )

    found = re.search(r"^([\d.]+) M instructions per PUT: ([\d,]+) for 13 PUTs", report, re.M)
    assert found, report
    # A PUT is millions of instructions: a run that made no requests would count ~0.
    assert float(found.group(1)) > 1


def test_returns_benchmark_times_the_desk_and_the_api():
    report = bench(
        "bench_returns.py",
        *("--incomplete-orders", "400", "--orders", "60", "--returns", "30", "--repeat", "1"),
        *("--api-requests", "3", "--bulk-size", "2"),
    )

    assert first_cells(report) == [
        "list, pending (default view)",
        "list, a filter",
        "search email fragment",
        "deepest page",
        "detail page",
        "POST /api/v1/return-requests",
        "bulk approve 2",
    ]
    assert "incomplete orders: 400  ·  orders: 60  ·  return requests: 30" in report
    assert "the email it came from was on the first result page 1/1 times" in report
    assert "statuses answered ['pending']" in report
    assert "approved per request: [2, 2, 2]" in report


def test_analytics_benchmark_times_the_runs_every_section_and_every_csv():
    report = bench("bench_analytics.py", "--orders", "300", "--repeat", "1")

    rows = first_cells(report)
    assert rows[:2] == ["update-analytics from scratch", "update-analytics an hour later"]
    assert "patterns, two years" in rows and "returns.csv, two years" in rows


def test_load_benchmark_times_every_route_alone_and_under_load():
    report = bench(
        "bench_load.py",
        *("--orders", "2000", "--seconds", "3", "--staff-clients", "2", "--workers", "2"),
        *("--repeat", "1", "--think", "0.05", "--prefill", "20"),
    )

    assert [cell for cell in first_cells(report) if cell != "route"] == [
        "overview",
        "incomplete orders, default",
        "incomplete orders, open last 30 days",
        "incomplete orders, search",
        "cart detail",
        "returns list",
        "return detail",
        "orders list",
        "outbox",
        "audit",
        "analytics",
    ]
    assert "gunicorn: 2 threaded workers" in report
    assert re.search(r"Storefront: [\d,]+ cart snapshots in [\d.]+ s, \d+ requests/s", report)
