#!/usr/bin/env bash
# Set up Reclaim on a fresh machine and serve it with demo data: SQLite, a demo login.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDERS="${DEMO_ORDERS:-5000}"
PORT="${PORT:-5000}"
DEMO_EMAIL="demo@example.com"
DEMO_PASSWORD="demo-password"

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt

export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask seed-demo --orders "$ORDERS" --seed 1 || echo "Demo data already there; kept it."
.venv/bin/flask create-staff "$DEMO_EMAIL" --role manager --password "$DEMO_PASSWORD" 2>/dev/null \
  || echo "The demo login already exists."

cat <<MSG

  Reclaim is starting at http://127.0.0.1:${PORT}/
  Sign in as ${DEMO_EMAIL} with the password ${DEMO_PASSWORD}

MSG
exec .venv/bin/flask run --host 127.0.0.1 --port "$PORT"
