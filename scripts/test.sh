#!/usr/bin/env bash
# The whole test suite on a fresh machine: Python deps, Redis, Elasticsearch, Chromium, then pytest.
# Services this script started are stopped at the end; ones already running are left alone.
# Usage: scripts/test.sh [pytest arguments]
# Then the secured stage: Elasticsearch with security on (tests/secured), unless the arguments chose
# markers (-m) or named tests; the plain Elasticsearch is started again after it. Exit non-zero if
# either stage failed.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

scripts/bootstrap.sh dev

if ! bash scripts/services.sh status >/dev/null 2>&1; then
  trap 'bash scripts/services.sh down' EXIT
fi
bash scripts/services.sh up
bash scripts/services.sh browser

# Types first: mypy --strict over ingest/ and workers/ (pyproject.toml), seconds, not minutes.
.venv/bin/mypy

# The secured tests (tests/secured) need the secured Elasticsearch, so the main run leaves them out
# unless the caller chose markers; they run after it, in a stage of their own (below).
marker_args=(-m "not secured")
run_secured=true
for arg in "$@"; do
  case "$arg" in
    -m|-m*) marker_args=(); run_secured=false ;;
    -*) ;;
    *) if [[ -e "${arg%%::*}" ]]; then run_secured=false; fi ;;  # the caller named what to run
  esac
done

set +e
# The slowest tests are listed at the end: the whole command must stay under 30 minutes in CI.
.venv/bin/python -m pytest -p no:cacheprovider --durations=25 "${marker_args[@]}" "$@"
status=$?
set -e
echo "test.sh: pytest exited $status after $((SECONDS - started))s in all"

# Secured stage: one Elasticsearch at a time (DESIGN.md, decision 14), so the plain one is stopped,
# the secured one started, and the plain one started again whatever happened.
if $run_secured; then
  stage_started=$SECONDS
  set +e
  bash scripts/services.sh up --secure && .venv/bin/python -m pytest -p no:cacheprovider -m secured tests/secured
  secured_status=$?
  bash scripts/services.sh up
  set -e
  echo "test.sh: secured stage exited $secured_status after $((SECONDS - stage_started))s"
  if (( status == 0 )); then status=$secured_status; fi
fi
exit $status
