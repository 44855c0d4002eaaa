#!/usr/bin/env bash
# Install the test dependencies and run the whole suite: lint, then the tests on SQLite,
# then on PostgreSQL (TEST_DATABASE_URL, default: the local server's `test` database).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

PG_URL="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"

# Python first: without 3.11+ nothing else is worth doing.
use_venv requirements-test.txt
.venv/bin/python -m pip check --disable-pip-version-check

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== tests on SQLite"
env -u TEST_DATABASE_URL .venv/bin/python -m pytest --timeout 300 "$@"

echo "== tests on PostgreSQL ($PG_URL)"
TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest --timeout 300 "$@"
