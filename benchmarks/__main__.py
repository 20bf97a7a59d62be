"""Every benchmark in one command, written to benchmarks/RESULTS.md with the machine, date and commit.

    benchmarks/run [--quick]      (or: .venv/bin/python -m benchmarks [--quick])

Runs, in order: the cluster-size curve (its own clusters), then on one
benchmark cluster (``bench``): each fault's effect, the load's capacity and
steadiness, the calibration table and the default scenario's overhead; then
the analysis throughput. Each section is written to RESULTS.md as soon as it
is measured, with the command that produced it; the last section sets
public reference figures beside ours. ``--quick`` shortens everything, to
check the benchmarks themselves (about 15 minutes instead of about 50).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.references import reference_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CLUSTER = "bench"
PYTHON = [sys.executable, "-m"]
HARNESS = [*PYTHON, "harness.cli"]  # this checkout's harness, whichever one `chaos-harness` would start


@dataclass(frozen=True)
class Section:
    """One benchmark: its title, what it measures, and its command (the figures go to ``<key>.json``)."""

    key: str
    title: str
    about: str
    argv: Callable[[bool, Path], list[str]]  # (quick, json path) -> command


SECTIONS = (
    Section("sizes", "Cluster size: up from nothing, up when up, memory held",
            "Each size on a cluster of its own, images already built; memory is what `docker stats` would count "
            "for every node container, every container the nodes run, the registries and Toxiproxy.",
            lambda quick, out: [*PYTHON, "benchmarks.cluster_sizes", "--json", str(out), *(["3"] if quick else [])]),
    Section("sizes-kubernetes", "Cluster size on Kubernetes: up from nothing, up when up, memory held",
            "As above, the cluster built with --engine kubernetes (binaries already built: `chaos-harness --engine "
            "kubernetes setup`); memory includes etcd, the API server, the controller manager and the scheduler on "
            "the first node, and containerd, the kubelet and kube-proxy on every node.",
            lambda quick, out: [*PYTHON, "benchmarks.cluster_sizes", "--engine", "kubernetes", "--json", str(out),
                                *(["3"] if quick else ["3", "5"])]),
    Section("faults", "Faults: inject, symptom, heal",
            "Each fault on the benchmark cluster with the demo app deployed, target node2 (the load balancer's "
            "node for the lb- faults).",
            lambda quick, out: [*PYTHON, "benchmarks.fault_effects", "--cluster", CLUSTER, "--json", str(out),
                                *(["lb-maintenance", "node-halt"] if quick else [])]),
    Section("load", "Load: capacity and steadiness through the load balancer",
            "The harness's own load (Locust, open schedule, client timeout 1 s) against the demo app's old "
            "release; cores are CPU seconds per second of each part while the rate ran.",
            lambda quick, out: [*PYTHON, "benchmarks.load_capacity", "--cluster", CLUSTER, "--json", str(out),
                                *(["50:15", "1000:30"] if quick else ["50", "200", "1000:300", "1500:30"])]),
    Section("calibration", "Calibration: outages of known length",
            "See the README's Calibration section for what the columns and bounds mean.",
            lambda quick, out: [*HARNESS, "--cluster", CLUSTER, "-q", "calibrate", "--reports",
                                str(out.parent), "--json",
                                *(["--rate", "200", "--duration", "500ms", "--repeat", "2"] if quick else [])]),
    Section("overhead", "The harness's own cost on the default scenario",
            "Two runs of `halted-node` (the first after the benchmarks above, the second on the "
            "stack it left); overhead is the run's wall time minus the phases the scenario asked for.",
            lambda quick, out: [*PYTHON, "benchmarks.overhead", "--cluster", CLUSTER, "--json", str(out),
                                *(["--runs", "1"] if quick else [])]),
    Section("readback", "The final read-back",
            "Acknowledged writes of the demo app read back and judged by its checks: through its listing "
            "(`writes.read_all`) first, then one request per write.",
            lambda quick, out: [*PYTHON, "benchmarks.readback", "--cluster", CLUSTER, "--json", str(out),
                                "--writes", "1000" if quick else "10000"]),
    Section("analysis", "Analysis throughput",
            "A synthetic run of a million samples (1,000 requests/s), analysed and rendered in a fresh process.",
            lambda quick, out: [*PYTHON, "benchmarks.analysis_throughput", "--json", str(out),
                                *(["--samples", "100000"] if quick else [])]),
)


def machine() -> list[str]:
    """Machine, date and commit lines."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 2 ** 20
    commit = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = " (with uncommitted changes)" if _output(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]) else ""
    engine = _output(["docker", "version", "--format", "{{.Server.Version}}"])
    return [f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", f"- commit: {commit}{dirty}",
            f"- machine: {os.cpu_count()} cores ({cpu}), {memory:.0f} GB RAM, {platform.platform()}",
            f"- Python {platform.python_version()}, Docker engine {engine}; clusters on the docker provider"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short settings, to check the benchmarks")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    header = ["# Benchmark results", "", "Written by `benchmarks/run` (every figure below with the command that "
              "produced it; run from the project root after `scripts/go.sh test` has set things up).", "",
              *machine(), *(["- **quick settings** (`--quick`): figures are indicative only"] if args.quick else [])]
    body: list[str] = []
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="benchmarks-") as scratch:
        subprocess.run([*HARNESS, "--cluster", CLUSTER, "-q", "cluster", "up"], cwd=ROOT, check=True)
        try:
            for section in SECTIONS:
                body += run_section(section, args.quick, Path(scratch), figures)
                write(args.output, header, body, figures)
        finally:
            subprocess.run([*HARNESS, "--cluster", CLUSTER, "-q", "down"], cwd=ROOT, check=False)
    print(f"wrote {args.output}")


def run_section(section: Section, quick: bool, scratch: Path, figures: dict) -> list[str]:
    """Run one benchmark; its Markdown (its own output, or the calibration's tables) under a heading."""
    out = scratch / section.key / f"{section.key}.json"
    out.parent.mkdir()
    argv = section.argv(quick, out)
    print(f"== {section.title}: {shlex.join(argv)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    took = time.monotonic() - started
    if section.key == "calibration":
        output = _calibration_tables(out.parent) if result.returncode in (0, 1) else ""
        out.write_text(result.stdout)
    else:
        output = result.stdout.strip()
    print(output or result.stderr[-3000:], flush=True)
    if out.exists() and result.returncode in (0, 1):
        figures[section.key] = json.loads(out.read_text())
    shown = shlex.join(argv).replace(shlex.join(HARNESS), "chaos-harness").replace(sys.executable, ".venv/bin/python")
    shown = shown.replace(str(scratch), "$TMP")
    status = "" if result.returncode in (0, 1) else f"\n\n**failed** (exit {result.returncode}): " \
                                                     f"`{result.stderr.strip().splitlines()[-1:] or ''}`"
    return ["", f"## {section.title}", "", f"`{shown}` ({took / 60:.1f} min)", "", section.about, "", output + status]


def write(path: Path, header: list[str], body: list[str], figures: dict) -> None:
    references = ["", "## Beside public figures", "", *reference_rows(figures)] if figures else []
    path.write_text("\n".join(header + body + references) + "\n")


def _calibration_tables(directory: Path) -> str:
    """The tables of the calibration.md the run wrote (its title and preamble left out)."""
    report = next(directory.glob("calibration-*/calibration.md"), None)
    return "" if report is None else report.read_text().split("\n\n", 2)[2].strip()


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
