"""Soak: scenario runs in a row with random faults and timings, some killed with SIGKILL; nothing may be left.

    .venv/bin/python benchmarks/soak.py [--runs 20] [--seed 1] [--reports reports/soak]

Every run takes a shipped scenario (each as often, in random order),
shortens its phases and moves its faults to a random moment (warmup,
upgrade, or after some tasks were replaced). A third of the runs are killed with SIGKILL at a random moment and healed with
`chaos-harness heal`. For the middle third a second cluster runs side by side
and the runs alternate between the two. After every run, and after each
cluster's `down`, `chaos-harness audit` must find nothing. The soak uses its
own clusters (soak-a, soak-b) and takes them down at the end; it prints one
line per run and a summary row for benchmarks/ROBUSTNESS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.shipped import shipped_scenario

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = ("soak-a", "soak-b")
SCENARIOS = ["halted-node", "frozen-daemon", "registry-down", "registry-unreachable", "port-conflict",
             "disk-full", "network-routing", "registry-auth", "bad-release-rollback", "frozen-daemon-rollback"]
AUDIT_PATIENCE = 90.0  # seconds a healed node may take to be Ready again before a leftover counts


@dataclass
class Tally:
    """The soak's counts."""

    runs: int = 0
    kills: int = 0
    faults: int = 0
    side_by_side_runs: int = 0
    exit_codes: dict[int, int] = field(default_factory=dict)  # of the runs (killed ones: of their heal)
    broken: list[str] = field(default_factory=list)  # runs or heals that exited 4: the harness broke
    leftovers: list[str] = field(default_factory=list)


def harness(cluster: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the chaos-harness CLI on ``cluster`` and wait for it."""
    return subprocess.run([sys.executable, "-m", "harness.cli", "-q", "--cluster", cluster, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def soak_scenario(name: str, rng: random.Random, out: Path) -> tuple[Path, int]:
    """Shipped scenario ``name`` with short phases and its faults moved to a random moment; also its fault count."""
    document = yaml.safe_load(shipped_scenario(name).read_text())
    document["phases"] = {**document.get("phases", {}), "warmup": "8s", "observe": "10s"}
    if "verify_window" in document["phases"]:
        document["phases"]["verify_window"] = "5s"
    for fault in document.get("faults", []):
        fault["at"] = rng.choice([{"phase": "warmup", "offset": f"{rng.uniform(1, 6):.1f}s"},
                                  {"phase": "upgrade", "offset": f"{rng.uniform(0, 4):.1f}s"},
                                  {"tasks_replaced": rng.randint(1, 2)}])
        if fault.get("duration"):
            fault["duration"] = f"{rng.uniform(5, 20):.0f}s"
    strategy = document.setdefault("strategy", {})
    strategy["kind"] = strategy.get("kind") or rng.choice(["in-service", "blue-green"])
    document["name"] = f"soak-{document['name']}"
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out, len(document.get("faults", []))


def run_once(cluster: str, scenario: Path, reports: Path, kill_after: float | None) -> int:
    """One run; with ``kill_after`` it is SIGKILLed then and healed. Returns the run's (or heal's) exit code."""
    argv = [sys.executable, "-m", "harness.cli", "-q", "--cluster", cluster, "run", str(scenario),
            "--reports", str(reports)]
    with scenario.with_suffix(".log").open("w") as log:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        process.wait(timeout=kill_after if kill_after is not None else 900)
        return process.returncode
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return harness(cluster, "heal", "--reports", str(reports)).returncode


def audit(cluster: str, reports: Path) -> list[str]:
    """What `chaos-harness audit` still finds once healed nodes had time to become Ready again."""
    deadline = time.monotonic() + AUDIT_PATIENCE
    while True:
        found = harness(cluster, "audit", "--reports", str(reports))
        if found.returncode == 0 or time.monotonic() > deadline:
            return [] if found.returncode == 0 else [f"{cluster}: {line}" for line in found.stdout.splitlines()
                                                     if line.strip()]
        time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reports", type=Path, default=ROOT / "reports" / "soak")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.monotonic()
    side_by_side = range(args.runs // 3, 2 * args.runs // 3)
    killed = set(rng.sample(range(args.runs), round(args.runs / 3)))
    drawn = [SCENARIOS[index % len(SCENARIOS)] for index in range(args.runs)]  # every scenario as often
    rng.shuffle(drawn)
    up(CLUSTERS[0])
    try:
        for index in range(args.runs):
            if index == side_by_side.start:
                up(CLUSTERS[1])
            cluster = CLUSTERS[index % 2] if index in side_by_side else CLUSTERS[0]
            one_run(index, cluster, drawn[index], rng, args.reports, tally, kill=index in killed)
            if index == side_by_side.stop - 1:
                down(CLUSTERS[1], args.reports, tally)
    finally:
        for cluster in CLUSTERS:
            down(cluster, args.reports, tally)
    summarise(tally, time.monotonic() - started, args)


def one_run(index: int, cluster: str, name: str, rng: random.Random, reports: Path, tally: Tally,
            kill: bool) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    scenario, faults = soak_scenario(name, rng, reports / f"soak-{index:02d}.yaml")
    while harness(cluster, "validate", str(scenario)).returncode == 2:  # a random timing the scenario refuses
        scenario, faults = soak_scenario(name, rng, scenario)
    kill_after = rng.uniform(5, 45) if kill else None
    code = run_once(cluster, scenario, reports, kill_after)
    found = audit(cluster, reports)
    tally.runs += 1
    tally.kills += kill_after is not None
    tally.faults += faults
    tally.side_by_side_runs += _is_up(CLUSTERS[1])
    tally.exit_codes[code] = tally.exit_codes.get(code, 0) + 1
    tally.leftovers += found
    if code == 4:
        tally.broken.append(f"{scenario.name}: see {scenario.with_suffix('.log')}")
    killed = f"killed at {kill_after:.0f}s, healed" if kill_after is not None else "ran through"
    print(f"run {index + 1:>2} {cluster} {scenario.name}: {killed}, exit {code}, leftovers {len(found)}",
          *found, sep="\n    ", flush=True)


def up(cluster: str) -> None:
    done = harness(cluster, "cluster", "up")
    if done.returncode != 0:
        sys.exit(f"cluster up {cluster} failed (exit {done.returncode}): {done.stderr[-2000:]}")


def down(cluster: str, reports: Path, tally: Tally) -> None:
    if not _is_up(cluster):
        return
    harness(cluster, "down")
    found = audit(cluster, reports)
    print(f"down {cluster}: leftovers {len(found)}", *found, sep="\n    ", flush=True)
    tally.leftovers += found


def _is_up(cluster: str) -> bool:
    home = Path(os.environ.get("CHAOS_HOME", ROOT / ".chaos"))
    return (home / "clusters" / cluster / "cluster.json").exists()


def summarise(tally: Tally, seconds: float, args) -> None:
    codes = ", ".join(f"exit {code}: {count}" for code, count in sorted(tally.exit_codes.items()))
    print(f"\nsoak: {tally.runs} runs ({tally.side_by_side_runs} with two clusters side by side), "
          f"{tally.kills} killed with SIGKILL and healed, {tally.faults} faults, leftovers found: "
          f"{len(tally.leftovers)}, harness broke: {len(tally.broken)}; {codes}; {seconds / 60:.1f} min")
    print(f"| soak (`benchmarks/soak.py --runs {args.runs} --seed {args.seed}`) | {tally.runs} runs, "
          f"{tally.kills} SIGKILLed + healed, {tally.faults} faults, {tally.side_by_side_runs} side by side | "
          f"leftovers {len(tally.leftovers)} | {seconds / 60:.1f} min |")
    if tally.leftovers or tally.broken:
        sys.exit(1)


if __name__ == "__main__":
    main()
