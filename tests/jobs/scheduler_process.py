"""One web process's scheduler, for the multi-process test: creates the app the way
wsgi.py does (settings from the environment, SCHEDULER_ENABLED on), so creating it starts
the scheduler, then idles until it is stopped (TERM: releases the lease) or killed.

Run as `python tests/jobs/scheduler_process.py` from the project root.
"""

import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dashboard import create_app  # noqa: E402 - after the project root is importable


def main():
    # TERM ends the process through SystemExit, so atexit releases the lease.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app()
    scheduler = app.extensions.get("reclaim_scheduler")
    if scheduler is None:
        sys.exit("the scheduler did not start: is SCHEDULER_ENABLED on?")
    print(f"ready {scheduler.holder}", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
