#!/usr/bin/env bash
# The engines compared (docs/explanation/engines.md): the seed failures on Docker Swarm and on Kubernetes, under
# in-service and blue-green, on the demo app; then the two failures whose timing matters most swept across the
# upgrade on both engines. The comparison's compare.md and compare.json, each sweep's sweep.md and screenshots
# of the HTML pages are copied into docs/engines/ (the runs stay in reports/engines/).
#
#   scripts/engines-findings.sh            REPEAT=1 POINTS=3 SWEEP_REPEAT=2 by default; SWEEPS=0 skips the sweeps
#
# Needs what `scripts/go.sh test` sets up (Kubernetes built), and Chromium for the screenshots. Two clusters,
# findings-swarm and findings-kubernetes, are brought up and left up (`chaos-harness --cluster findings-swarm
# down`, and the same for findings-kubernetes, removes them).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-1}
POINTS=${POINTS:-3}
SWEEP_REPEAT=${SWEEP_REPEAT:-2}
SWEEPS=${SWEEPS:-1}
REPORTS=reports/engines
OUT=docs/engines
SEEDS=(clean-upgrade halted-node registry-unreachable frozen-daemon port-conflict bad-release-rollback node-drain
       progress-deadline-pause max-unavailable-rounding)  # the last two: Kubernetes only
HARNESS=(.venv/bin/chaos-harness --cluster findings)
mkdir -p "$OUT"

screenshot() {  # page, png
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1250,1400 \
    --screenshot="$PWD/$2" "file://$PWD/$1" 2>/dev/null
}

"${HARNESS[@]}" matrix "${SEEDS[@]}" --engines swarm,kubernetes --strategies in-service,blue-green \
  --repeat "$REPEAT" --reports "$REPORTS" || echo "matrix: not every run passed (see above)" >&2
matrices=("$REPORTS"/matrix-*)
latest=${matrices[-1]}  # matrix-<UTC time>: the newest sorts last
cp "$latest"/compare.md "$latest"/compare.json "$OUT/"
screenshot "$latest/compare.html" "$OUT/compare.png"
echo "comparison: $OUT/compare.md, $OUT/compare.png"

[ "$SWEEPS" = 1 ] || exit 0
for scenario in frozen-daemon-rollback registry-unreachable; do
  before=("$REPORTS"/sweep-*)
  "${HARNESS[@]}" sweep "$scenario" --engines swarm,kubernetes --strategies in-service --points "$POINTS" \
    --repeat "$SWEEP_REPEAT" --reports "$REPORTS" || echo "sweep of $scenario: not every run reported" >&2
  after=("$REPORTS"/sweep-*)
  for directory in "${after[@]:${#before[@]}}"; do  # this sweep's directories, one per engine
    engine=${directory##*-}
    mkdir -p "$OUT/$scenario-$engine"
    cp "$directory"/sweep.json "$directory"/sweep.md "$OUT/$scenario-$engine/"
    screenshot "$directory/sweep.html" "$OUT/$scenario-$engine/sweep.png"
    echo "$scenario on $engine: $OUT/$scenario-$engine/sweep.md"
  done
done
