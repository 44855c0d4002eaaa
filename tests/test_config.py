"""Production settings, checked in a fresh interpreter: config is read at import time."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "from dashboard import create_app; app = create_app(); print(app.config['SESSION_COOKIE_SECURE'])"


def _start_production(tmp_path, secret):
    env = {
        **os.environ,
        "RECLAIM_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    }
    env.pop("SECRET_KEY", None)
    if secret is not None:
        env["SECRET_KEY"] = secret
    return subprocess.run(
        [sys.executable, "-c", START], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_starts_with_a_real_secret_key_and_secure_cookies(tmp_path):
    started = _start_production(tmp_path, "9f" * 32)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "True"


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path):
    for secret in (None, "short", "dev-only-not-secret"):
        refused = _start_production(tmp_path, secret)
        assert refused.returncode != 0
        assert "SECRET_KEY must be set" in refused.stderr
