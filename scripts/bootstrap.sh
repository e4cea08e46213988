#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs the locked, hash-checked dependencies, then the project.
# Usage: scripts/bootstrap.sh [dev]   ("dev" adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."

lock=requirements.lock
[ "${1:-}" = dev ] && lock=requirements-dev.lock

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "bootstrap: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
# Skip the install when the lock has not changed since the last successful one.
stamp=.venv/.installed-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$lock"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# pip byte-compiles what it installs, but not an editable project: compile ours here, because with
# PYTHONDONTWRITEBYTECODE set (as on these machines) no run ever writes it, and every new process
# (daemon, pool, worker, each CLI call) would compile ~100 modules from source. Cheap; an edited file
# is compiled in memory until the next bootstrap.
.venv/bin/python -m compileall -q -j 0 ingest workers >/dev/null
echo "bootstrap: .venv ready ($(.venv/bin/python --version), $lock)"
