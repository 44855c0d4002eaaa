#!/usr/bin/env bash
# Set up Reclaim on a fresh machine and serve it with demo data: SQLite, a demo login, and
# the embedded scheduler sending recovery emails, which the console backend prints, one
# line each with where to read it (nothing leaves the machine).
#
#   PORT=5000          where it serves (the emails' links follow it)
#   DEMO_ORDERS=5000   how many incomplete orders a fresh demo database gets
# DATABASE_URL and the other settings (.env.example) are honoured as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

ORDERS="${DEMO_ORDERS:-5000}"
PORT="${PORT:-5000}"
DEMO_EMAIL="demo@example.com"
DEMO_PASSWORD="demo-password"

use_venv requirements.txt

export RECLAIM_ENV=development # the development key and console mail, on purpose
export FLASK_APP=wsgi
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:${PORT}}"
export MAIL_BACKEND="${MAIL_BACKEND:-console}"
# Recovery runs and deliveries every few seconds, so emails go out while you watch.
export RECOVERY_RUN_SECONDS="${RECOVERY_RUN_SECONDS:-20}"
export DELIVERY_RUN_SECONDS="${DELIVERY_RUN_SECONDS:-10}"

.venv/bin/flask db upgrade

# What the database holds already: a re-run keeps it (seed-demo refuses a filled one).
HELD=$(
  SCHEDULER_ENABLED=false .venv/bin/python - "$DEMO_EMAIL" <<'PY'
import sys

from sqlalchemy import func, select

from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from wsgi import app

with app.app_context():
    orders = db.session.scalar(select(func.count()).select_from(IncompleteOrder))
    login = db.session.scalar(select(func.count()).where(Staff.email == sys.argv[1]))
    print(orders, f"{orders:,}", login)
PY
)
read -r EXISTING EXISTING_SHOWN HAS_LOGIN <<<"$HELD"
if [ "$EXISTING" -eq 0 ]; then
  .venv/bin/flask seed-demo --orders "$ORDERS" --seed 1
  # The analytics pages read stored figures, which the scheduler refreshes hourly: count
  # them now, so the first look at them shows the demo shop's history, not zeros.
  SCHEDULER_ENABLED=false .venv/bin/flask update-analytics
else
  echo "The database has $EXISTING_SHOWN incomplete orders already: kept them."
fi
if [ "$HAS_LOGIN" -eq 0 ]; then
  .venv/bin/flask create-staff "$DEMO_EMAIL" --role manager --password "$DEMO_PASSWORD"
fi

cat <<MSG

  Reclaim is starting at http://127.0.0.1:${PORT}/
  Sign in as ${DEMO_EMAIL} with the password ${DEMO_PASSWORD}
  Recovery emails go out every ${RECOVERY_RUN_SECONDS} s; each prints one line here.

MSG
# No reloader: it would run the app, and so the scheduler, in two processes.
SCHEDULER_ENABLED=true exec .venv/bin/flask run --host 127.0.0.1 --port "$PORT" --no-reload
