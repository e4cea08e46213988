#!/usr/bin/env bash
# Coverage-guided fuzzing (atheris) of the parsers that read untrusted input. Not part of the test suite.
# Usage: scripts/fuzz.sh [feed|url|noise|sources|all] [SECONDS per target, default 600]
# Installs the `fuzz` extra into .venv, seeds each target from seeds/, config/ and tests/fixtures/, and
# keeps everything it makes (corpus, findings, logs) in $FUZZ_WORK_DIR (default /tmp/newsingest-fuzz),
# outside git. A finding is written once per distinct failure and fuzzing goes on; store the ones
# worth keeping under tests/fixtures/fuzz/TARGET/ (tests/unit/test_fuzz_regressions.py replays them).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-600}
work=${FUZZ_WORK_DIR:-/tmp/newsingest-fuzz}
all_targets=(feed url noise sources)
case "$target" in
  all) targets=("${all_targets[@]}") ;;
  feed|url|noise|sources) targets=("$target") ;;
  *) echo "fuzz: unknown target '$target' (feed, url, noise, sources or all)" >&2; exit 2 ;;
esac

# The extra's requirements, read from pyproject.toml so the range lives in one place.
if ! .venv/bin/python -c 'import atheris' 2>/dev/null; then
  mapfile -t requirements < <(.venv/bin/python -c \
    'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["fuzz"]))')
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: "${requirements[@]}"
fi

run_target() {  # one target for $seconds, restarting after a libFuzzer stop (timeout, out-of-memory)
  local name=$1 dir=$work/$1
  mkdir -p "$dir/corpus" "$dir/findings" "$dir/artifacts"
  .venv/bin/python -m fuzz.seed "$name" "$dir/seeds" >/dev/null
  : >"$dir/log.txt"
  local started=$SECONDS remaining dict=()
  [ -f "fuzz/dicts/$name.dict" ] && dict=(-dict="fuzz/dicts/$name.dict")
  while remaining=$((seconds - (SECONDS - started))); [ "$remaining" -gt 0 ]; do
    FUZZ_FINDINGS_DIR=$dir/findings .venv/bin/python "fuzz/targets/$name.py" \
      -max_total_time="$remaining" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
      -artifact_prefix="$dir/artifacts/" -print_final_stats=1 "${dict[@]}" \
      "$dir/corpus" "$dir/seeds" >>"$dir/log.txt" 2>&1 || echo "fuzz: $name stopped early (see $dir/artifacts), restarting" >>"$dir/log.txt"
  done
  echo "$((SECONDS - started))" >"$dir/duration_s"
}

summary() {  # executions, exec/s, coverage and findings of one target, from its log
  local name=$1 dir=$work/$1
  .venv/bin/python - "$name" "$dir" <<'PY'
import re, sys
from pathlib import Path
name, folder = sys.argv[1], Path(sys.argv[2])
log = (folder / "log.txt").read_text(errors="replace")
runs = sum(int(n) for n in re.findall(r"stat::number_of_executed_units: (\d+)", log))
duration = int((folder / "duration_s").read_text()) if (folder / "duration_s").exists() else 0
cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
edges, features = cov[-1] if cov else ("?", "?")
findings = sorted(p.name for p in (folder / "findings").glob("*") if p.suffix != ".txt")
artifacts = sorted(p.name for p in (folder / "artifacts").glob("*"))
rate = runs // duration if duration else 0
print(f"{name:8} runs={runs} duration={duration}s exec/s={rate} cov(edges)={edges} ft={features}"
      f" findings={len(findings)} libfuzzer-artifacts={len(artifacts)}")
for finding in findings:
    print(f"    {folder / 'findings' / finding}: {(folder / 'findings' / (finding + '.txt')).read_text().splitlines()[0]}")
for artifact in artifacts:
    print(f"    {folder / 'artifacts' / artifact}")
PY
}

for name in "${targets[@]}"; do
  echo "fuzz: $name for ${seconds}s (log: $work/$name/log.txt)"
  run_target "$name"
done
echo "fuzz: summary"
for name in "${targets[@]}"; do summary "$name"; done
