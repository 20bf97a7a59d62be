"""The harness's own cost on the default scenario: `timings` of report.json, for a run after a fresh deploy
and for a run right after it (the stack already up).

    .venv/bin/python -m benchmarks.overhead [--cluster NAME] [--scenario halted-node] [--json FILE]

Needs `chaos-harness cluster up` first (the runs bring it up otherwise).
Prints a Markdown row per run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ("| run | command's wall time | run's wall | scenario's phases | overhead | prepare | heal | read-back | logs | "
          "analysis | rendering |\n|---|---|---|---|---|---|---|---|---|---|---|")
STEPS = ("prepare", "heal", "read_back", "logs", "analysis", "rendering")


def run_once(cluster: str, scenario: str) -> dict:
    """One run through the CLI: its report's timings, and the command's whole wall time (start-up included)."""
    with tempfile.TemporaryDirectory(prefix="overhead-") as reports:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "harness.cli", "-q", "--cluster", cluster, "run", scenario,
                                 "--reports", reports, "--json"], capture_output=True, text=True)
        if result.returncode not in (0, 1):
            raise SystemExit(f"the run failed (exit {result.returncode}): {result.stderr[-2000:]}")
        return {**json.loads(result.stdout)[0]["timings"], "command": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="chaos")
    parser.add_argument("--scenario", default="halted-node")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    print(HEADER)
    figures = []
    for number in range(1, args.runs + 1):
        timings = run_once(args.cluster, args.scenario)
        figures.append(timings)
        phases = sum(timings["phases"].values())
        steps = " | ".join(f"{timings[step]:.1f} s" if timings.get(step) is not None else "-" for step in STEPS)
        print(f"| {number} | {timings['command']:.1f} s | {timings['wall']:.1f} s | {phases:.1f} s | {timings['overhead']:.1f} s | {steps} |",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
