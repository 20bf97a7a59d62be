#!/usr/bin/env bash
# The engines compared (docs/explanation/engines.md): the seed failures on Docker Swarm and on Kubernetes, under
# in-service and blue-green, on the demo app; then the two failures whose timing matters most swept across the
# upgrade on both engines. The failures side by side go into docs/explanation/engines.md (between its findings
# markers); the comparison's compare.md and compare.json, each sweep's sweep.md and screenshots of the HTML
# pages are copied into docs/engines/ (the runs stay in reports/engines/).
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
       progress-deadline-pause max-unavailable-rounding readiness-too-early)  # the last three: Kubernetes only
# toleration-wait (Kubernetes only too) is left out: it takes 7 minutes a run.
HARNESS=(.venv/bin/chaos-harness --cluster findings)
mkdir -p "$OUT"

side_by_side() {  # compare.json: each failure and strategy, the engines side by side, as Markdown
  .venv/bin/python - "$1" <<'PYTHON'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
engines = ["swarm", "kubernetes"]
def cell(row):
    if row is None:
        return "-"
    outcome = ", ".join(sorted(row["outcomes"]))
    verdict = {"succeeded": "verified", "failed": "FAILED", "none": "none"}
    rollback = ", ".join(verdict[v] for v in row["rollback_verdicts"])
    seconds = lambda spread: "-" if spread["median"] is None else f"{spread['median']:.2f} s"
    return (f"{outcome}; down {seconds(row['downtime'])}; rollback {rollback}"
            + (f" in {seconds(row['time_to_rollback'])}" if row["time_to_rollback"]["median"] is not None else "")
            + f"; lost {'-' if row['lost_writes']['median'] is None else int(row['lost_writes']['median'])}")
cells = {}
for row in rows:
    cells.setdefault((row["scenario"].removesuffix("@demo"), row["strategy"]), {})[row["engine"]] = row
print("| failure | strategy | " + " | ".join(f"{e}: outcome; downtime; rollback; lost writes" for e in engines) + " |")
print("|---|---|" + "---|" * len(engines))
for (scenario, strategy), by_engine in cells.items():
    print(f"| {scenario} | {strategy} | " + " | ".join(cell(by_engine.get(e)) for e in engines) + " |")
PYTHON
}

into_page() {  # page, table file: the table replaces what is between the page's <!-- findings --> markers
  .venv/bin/python - "$1" "$2" <<'PYTHON'
import re, sys
page = open(sys.argv[1]).read()
table = open(sys.argv[2]).read().strip()
marked = re.compile(r"(<!-- findings -->\n).*?(\n<!-- /findings -->)", re.S)
if not marked.search(page):
    sys.exit(f"{sys.argv[1]}: no <!-- findings --> ... <!-- /findings --> markers to write the table between")
open(sys.argv[1], "w").write(marked.sub(lambda m: m.group(1) + table + m.group(2), page))
PYTHON
}

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
side_by_side "$OUT/compare.json" > "$latest/findings.md"
into_page docs/explanation/engines.md "$latest/findings.md"
echo "comparison: $OUT/compare.md, $OUT/compare.png; the side by side table in docs/explanation/engines.md"

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
