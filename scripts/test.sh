#!/usr/bin/env bash
# The whole test suite on a fresh machine: Python deps, Redis, Elasticsearch, then pytest.
# Services this script started are stopped at the end; ones already running are left alone.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

scripts/bootstrap.sh dev

if ! bash scripts/services.sh status >/dev/null 2>&1; then
  trap 'bash scripts/services.sh down' EXIT
fi
bash scripts/services.sh up

# Types first: mypy --strict over ingest/ and workers/ (pyproject.toml), seconds, not minutes.
.venv/bin/mypy

set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
echo "test.sh: pytest exited $status after $((SECONDS - started))s in all"
exit $status
