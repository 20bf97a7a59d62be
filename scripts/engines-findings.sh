#!/usr/bin/env bash
# The engines compared (docs/explanation/engines.md): the seed failures on Docker Swarm and on Kubernetes, under
# in-service, blue-green and (Kubernetes only) service-switch, on one app (the demo, or APP=PROFILE), repeated; then
# the two failures whose timing matters most swept across the upgrade on both engines. The failures side by side go
# into docs/explanation/engines.md (between its findings markers: <!-- findings --> for the demo, <!-- findings-NAME
# --> for the app of profile NAME.yaml, and the same for sweeps); the comparison's compare.md and compare.json, each
# sweep's sweep.md and screenshots of the HTML pages are copied into docs/engines/ (docs/engines/NAME/ for another
# app; the runs stay in reports/engines/<start time>/).
#
#   scripts/engines-findings.sh     REPEAT=3 POINTS=3 SWEEP_REPEAT=2 APP=demo by default; SWEEPS=0 skips the sweeps
#   APP=examples/guestbook/guestbook.yaml scripts/engines-findings.sh
#   MEASURE=0 REPORTS=reports/engines/<time> scripts/engines-findings.sh
#                                   the table, the copies and the pictures again from runs already made there
#
# Each engine has its own cluster (findings-swarm, findings-kubernetes) and its own runs, one after the other; the
# two engines run side by side, since an idle Swarm cluster takes next to nothing from the Kubernetes one. Both are
# left up (`chaos-harness --cluster findings-swarm down`, and the same for findings-kubernetes, removes them).
# Needs what `scripts/go.sh test` sets up (Kubernetes built), and Chromium for the screenshots.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
POINTS=${POINTS:-3}
SWEEP_REPEAT=${SWEEP_REPEAT:-2}
SWEEPS=${SWEEPS:-1}
APP=${APP:-demo}
MEASURE=${MEASURE:-1}
REPORTS=${REPORTS:-reports/engines/$(date -u +%Y%m%dT%H%M%SZ)}
NAME=$(basename "$APP" .yaml)
if [ "$APP" = demo ]; then OUT=docs/engines SUFFIX=; else OUT=docs/engines/$NAME SUFFIX=-$NAME; fi
SEEDS=(clean-upgrade halted-node registry-unreachable frozen-daemon port-conflict bad-release-rollback node-drain
       progress-deadline-pause max-unavailable-rounding)  # the last two: Kubernetes only
# readiness-too-early (Kubernetes only) upgrades to the demo's v2-warmup, a release whose probe passes before it
# serves: another app has no such release.
[ "$APP" != demo ] || SEEDS+=(readiness-too-early)
# toleration-wait (Kubernetes only too) is left out: it takes 7 minutes a run.
SWEPT=(frozen-daemon-rollback registry-unreachable)
mkdir -p "$OUT"

harness() {  # engine, then the command: on the engine's own cluster
  local engine=$1
  shift
  .venv/bin/chaos-harness --cluster "findings-$engine" --engine "$engine" "$@"
}

measure() {  # engine: the matrix, then the sweeps, into $REPORTS/<engine>; its output into $REPORTS/<engine>.log
  local engine=$1
  harness "$engine" matrix "${SEEDS[@]}" --apps "$APP" --strategies in-service,blue-green,service-switch \
    --repeat "$REPEAT" --reports "$REPORTS/$engine" || echo "matrix on $engine: not every run passed" >&2
  [ "$SWEEPS" = 1 ] || return 0
  for scenario in "${SWEPT[@]}"; do
    harness "$engine" sweep "$scenario" --app "$APP" --strategies in-service --points "$POINTS" \
      --repeat "$SWEEP_REPEAT" --reports "$REPORTS/$engine/sweeps/$scenario" \
      || echo "sweep of $scenario on $engine: not every run reported" >&2
  done
}

side_by_side() {  # compare.json: each failure and strategy, the engines side by side, as Markdown
  .venv/bin/python - "$1" <<'PYTHON'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
engines = ["swarm", "kubernetes"]
def seconds(spread):
    if spread["median"] is None:
        return "-"
    low, high = f"{spread['low']:.2f}", f"{spread['high']:.2f}"
    return f"{spread['median']:.2f} s" + ("" if low == high else f" ({low}-{high})")
def cell(row):
    if row is None:
        return "-"
    outcome = ", ".join(f"{name} ×{count}" if count < row["runs"] else name for name, count in sorted(row["outcomes"].items()))
    verdict = {"succeeded": "verified", "failed": "FAILED", "none": "none"}
    rollback = ", ".join(f"{verdict[v]} ×{n}" if n < row["runs"] else verdict[v] for v, n in row["rollback_verdicts"].items())
    lost = row["lost_writes"]["high"]
    return (f"{outcome}; down {seconds(row['downtime'])}; rollback {rollback}"
            + (f" in {seconds(row['time_to_rollback'])}" if row["time_to_rollback"]["median"] is not None else "")
            + (f"; switch reached clients in {seconds(row['propagation_window'])}"
               if row.get("propagation_window", {}).get("median") is not None else "")
            + f"; lost {'-' if lost is None else int(lost)}")
cells = {}
for row in rows:
    cells.setdefault((row["scenario"], row["strategy"]), {})[row["engine"]] = row
runs = sorted({row["runs"] for row in rows})
print(f"Runs per cell: {' or '.join(map(str, runs))}; a figure is the median, with the range in brackets when the "
      "runs differ; an outcome or verdict that not every run had says in how many (×n).\n")
print("| failure | strategy | " + " | ".join(engines) + " |")
print("|---|---|" + "---|" * len(engines))
for (scenario, strategy), by_engine in cells.items():
    print(f"| {scenario.split('@')[0]} | {strategy} | " + " | ".join(cell(by_engine.get(e)) for e in engines) + " |")
PYTHON
}

into_page() {  # page, file, marker: the file's text replaces what is between the page's <!-- marker --> markers
  .venv/bin/python - "$1" "$2" "$3" <<'PYTHON'
import re, sys
page, text, marker = open(sys.argv[1]).read(), open(sys.argv[2]).read().strip(), sys.argv[3]
marked = re.compile(rf"(<!-- {marker} -->\n).*?(<!-- /{marker} -->)", re.S)
if not marked.search(page):
    sys.exit(f"{sys.argv[1]}: no <!-- {marker} --> ... <!-- /{marker} --> markers to write between")
open(sys.argv[1], "w").write(marked.sub(lambda m: m.group(1) + text + "\n" + m.group(2), page))
PYTHON
}

predictability() {  # sweep.json: its predictability line per strategy, as sweep.md gives it
  .venv/bin/python - "$1" <<'PYTHON'
import json, sys
from harness.sweep.fold import predictability_line
document = json.load(open(sys.argv[1]))
print("; ".join(predictability_line(kind, strategy) for kind, strategy in document["strategies"].items()))
PYTHON
}

screenshot() {  # page, png
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1250,1400 \
    --screenshot="$(realpath -m "$2")" "file://$(realpath "$1")" 2>/dev/null
}

if [ "$MEASURE" = 1 ]; then
  mkdir -p "$REPORTS"
  for engine in swarm kubernetes; do
    measure "$engine" > "$REPORTS/$engine.log" 2>&1 &
  done
  echo "measuring on both engines (progress: $REPORTS/swarm.log, $REPORTS/kubernetes.log)"
  wait
fi

runs=("$REPORTS"/swarm/20* "$REPORTS"/kubernetes/20*)  # every matrix run of both engines (not the sweeps')
.venv/bin/chaos-harness compare "${runs[@]}" --output "$REPORTS/compare" > /dev/null
cp "$REPORTS"/compare/compare.md "$REPORTS"/compare/compare.json "$OUT/"
screenshot "$REPORTS/compare/compare.html" "$OUT/compare.png"
side_by_side "$OUT/compare.json" > "$REPORTS/findings.md"
into_page docs/explanation/engines.md "$REPORTS/findings.md" "findings$SUFFIX"
echo "comparison: $OUT/compare.md, $OUT/compare.png; the side by side table in docs/explanation/engines.md"

: > "$REPORTS/sweeps.md"
for scenario in "${SWEPT[@]}"; do
  for engine in swarm kubernetes; do
    for directory in "$REPORTS/$engine/sweeps/$scenario"/sweep-*; do
      mkdir -p "$OUT/$scenario-$engine"
      cp "$directory"/sweep.json "$directory"/sweep.md "$OUT/$scenario-$engine/"
      screenshot "$directory/sweep.html" "$OUT/$scenario-$engine/sweep.png"
      echo "- **$scenario on $engine**: $(predictability "$directory/sweep.json")" \
        "([sweep](../${OUT#docs/}/$scenario-$engine/sweep.md), [picture](../${OUT#docs/}/$scenario-$engine/sweep.png))" \
        >> "$REPORTS/sweeps.md"
      echo "$scenario on $engine: $OUT/$scenario-$engine/sweep.md"
    done
  done
done
[ ! -s "$REPORTS/sweeps.md" ] || into_page docs/explanation/engines.md "$REPORTS/sweeps.md" "sweeps$SUFFIX"
