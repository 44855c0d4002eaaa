# Sourced by demo.sh and test.sh, from the project root: `use_venv REQUIREMENTS_FILE` makes
# sure .venv exists, was made by Python 3.11 or newer and works, and has the requirements.
#
# PYTHON=/path/to/python3.12 names the interpreter; otherwise it is the first of python3,
# python3.13, python3.12, python3.11 that is 3.11 or newer.

python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

find_python() {
  local candidate
  for candidate in ${PYTHON:-python3 python3.13 python3.12 python3.11}; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

use_venv() {
  local requirements=$1 python wanted made
  if ! python=$(find_python); then
    echo "Reclaim needs Python 3.11 or newer; ${PYTHON:-python3} here is $(python_version "${PYTHON:-python3}" || echo "missing")." >&2
    echo "Install Python 3.11+ (or set PYTHON=/path/to/python3.11) and run this again." >&2
    exit 1
  fi
  wanted=$(python_version "$python")
  # A .venv from another Python, or one that no longer runs (its Python was removed, an
  # install broke it), would fail the same way on every run: start it again.
  made=$(.venv/bin/python -c 'import pip, sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
  if [ "$made" != "$wanted" ]; then
    if [ -e .venv ]; then
      echo "Rebuilding .venv with Python $wanted (it was made by ${made:-a Python that no longer runs})..."
      rm -rf .venv
    fi
    if ! "$python" -m venv .venv; then
      echo "Could not create .venv with $python: on Debian or Ubuntu, install python$wanted-venv." >&2
      rm -rf .venv
      exit 1
    fi
  fi
  # Installed already from this very file: a re-run need not ask pip about every package.
  local stamp=".venv/.installed-$(basename "$requirements")"
  local digest
  digest=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" >"$stamp"
  fi
}
