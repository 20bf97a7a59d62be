#!/usr/bin/env bash
# The shipped sweep of the seed failures (README, "Sweeps"): each seed scenario's fault struck at three
# points of the upgrade under both strategies, twice, on the demo app. Each sweep's sweep.json, sweep.md and a
# screenshot of its sweep.html are copied into docs/sweeps/<scenario>/ (the full sweep stays in reports/).
#
#   scripts/seed-sweep.sh [SCENARIO...]    default: halted-node frozen-daemon-rollback registry-unreachable
#
# Needs what `scripts/go.sh demo` sets up, and Chromium for the screenshots (apt-get install chromium).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
POINTS=${POINTS:-3}
REPEAT=${REPEAT:-2}
REPORTS=reports/seed-sweep
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(halted-node frozen-daemon-rollback registry-unreachable)

for scenario in "${scenarios[@]}"; do
  before=("$REPORTS"/sweep-*)
  .venv/bin/chaos-harness sweep "$scenario" --points "$POINTS" --repeat "$REPEAT" \
    --reports "$REPORTS" || echo "sweep of $scenario: not every run produced a report (see above)" >&2
  after=("$REPORTS"/sweep-*)
  [ ${#after[@]} -gt ${#before[@]} ] || { echo "no sweep of $scenario" >&2; exit 1; }
  latest=${after[-1]}  # sweep-<UTC time>: the newest sorts last
  out=docs/sweeps/$scenario
  mkdir -p "$out"
  cp "$latest"/sweep.json "$latest"/sweep.md "$out/"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1250 \
    --screenshot="$PWD/$out/sweep.png" "file://$PWD/$latest/sweep.html" 2>/dev/null
  echo "$scenario: $out/sweep.md, $out/sweep.png"
done
