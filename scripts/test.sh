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

# Debian's chromium for the browser tests, valgrind for the instruction count's smoke test.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v valgrind >/dev/null || missing+=(valgrind)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing Debian's ${missing[*]}..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .

# The two runs go side by side (a machine has two cores; each run is mostly one), each
# into its own log, printed whole when both have ended; either failing fails the command.
mkdir -p test-artifacts
echo "== tests on SQLite and on PostgreSQL ($PG_URL), side by side"
env -u TEST_DATABASE_URL .venv/bin/python -m pytest --timeout 300 "$@" \
  >test-artifacts/sqlite.log 2>&1 &
sqlite_pid=$!
TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest --timeout 300 "$@" \
  >test-artifacts/postgresql.log 2>&1 &
postgresql_pid=$!
sqlite_status=0 postgresql_status=0
wait "$sqlite_pid" || sqlite_status=$?
wait "$postgresql_pid" || postgresql_status=$?

echo "== tests on SQLite (exit $sqlite_status)"
cat test-artifacts/sqlite.log
echo "== tests on PostgreSQL ($PG_URL, exit $postgresql_status)"
cat test-artifacts/postgresql.log
[ "$sqlite_status" -eq 0 ] && [ "$postgresql_status" -eq 0 ]
