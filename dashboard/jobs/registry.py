"""The scheduled jobs, as each domain registers them when the app is created.

A job is a runner: it owns its transactions and returns a dict of counts for /jobs/.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    run: Callable[[], dict]  # () -> counts
    trigger: Callable  # (config) -> an APScheduler trigger
    schedule: Callable[[dict], str]  # (config) -> how often it runs, in words
    # What a run would do now, for the confirm step of "Run now": () -> template context,
    # shown with `preview_template`. Reads only.
    preview: Callable[[], dict]
    preview_template: str


def register_job(app, job):
    app.extensions.setdefault("reclaim_jobs", {})[job.name] = job


def registered_jobs(app=None):
    """{name: Job} in the order the domains registered them."""
    return (app or current_app).extensions.get("reclaim_jobs", {})
