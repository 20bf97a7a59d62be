"""Analysis throughput: how long one run's analysis takes and how much memory it needs.

    .venv/bin/python benchmarks/analysis_throughput.py [--samples 1000000] [--rate 1000] [--keep DIR]

Synthesises a run directory with ``harness.testing.write_long_run`` (a
realistic in-service upgrade of three tasks from v1 to v2 with a node-halt
fault and three outages, samples in end-time order, a journal whose task
events make attribution work), then analyses it (``analyze_run_dir``) and
renders its reports (``write_run_reports``) in a fresh Python process. Peak
memory is that process's peak resident set (``getrusage`` ``ru_maxrss``):
interpreter and imports included, taken after the analysis, before rendering.
The analysis's CPU time is printed beside its wall time: on a busy machine
the wall time says more about the neighbours.
Goal (issue 11): 1,000,000 samples in <= 20 s and <= 500 MB. Prints one line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 20.0
GOAL_MB = 500.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second of the synthetic run")
    parser.add_argument("--keep", type=Path, help="synthesise into this directory and keep it")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--analyse", type=Path, help=argparse.SUPPRESS)  # the measuring child process
    args = parser.parse_args()
    if args.analyse:
        print(json.dumps(measure(args.analyse)))
    elif args.keep:
        benchmark(args.keep, args.samples, args.rate, args.json)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            benchmark(Path(scratch) / "run", args.samples, args.rate, args.json)


def benchmark(run_dir: Path, samples: int, rate: float, json_path: Path | None) -> None:
    """Synthesise ``run_dir``, measure its analysis in a child process, print the figures and the command."""
    from harness.testing import write_long_run

    write_long_run(run_dir, samples, rate)
    size = (run_dir / "samples.jsonl").stat().st_size / 2 ** 20
    child = subprocess.run([sys.executable, __file__, "--analyse", str(run_dir)], capture_output=True, text=True,
                           check=True)
    figures = json.loads(child.stdout)
    met = figures["analysis"] <= GOAL_SECONDS and figures["peak_mb"] <= GOAL_MB
    print(f"{samples:,} samples ({size:.0f} MB): analysis {figures['analysis']:.1f}s (CPU {figures['cpu']:.1f}s), "
          f"peak RSS {figures['peak_mb']:.0f} MB (after imports {figures['base_mb']:.0f} MB), "
          f"rendering {figures['rendering']:.2f}s; goal <= {GOAL_SECONDS:g}s and <= {GOAL_MB:g} MB: "
          f"{'met' if met else 'MISSED'}")
    if json_path:
        json_path.write_text(json.dumps({**figures, "samples": samples, "size_mb": size, "met": met}, indent=2))


def measure(run_dir: Path) -> dict[str, float]:
    """Seconds to analyse and to render ``run_dir``, and this process's peak memory in MB."""
    from harness.analysis import analyze_run_dir
    from harness.report import write_run_reports

    base = _peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    document = analyze_run_dir(run_dir)
    analysed, cpu = time.perf_counter(), time.process_time() - cpu
    peak = _peak_mb()
    write_run_reports(run_dir, document)
    return {"analysis": analysed - started, "cpu": cpu, "rendering": time.perf_counter() - analysed,
            "peak_mb": peak, "base_mb": base}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


if __name__ == "__main__":
    main()
