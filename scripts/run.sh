#!/usr/bin/env bash
# The main job on a fresh machine: install, then run the daemon with the bundled config.
# Standalone mode unless NEWSINGEST_REDIS_URL and NEWSINGEST_ELASTICSEARCH_URL are set.
# Usage: scripts/run.sh [--once]     (any `newsingest run` option)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/newsingest run "$@"
