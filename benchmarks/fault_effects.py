"""Measure every fault on a running cluster: its own inject time, the time until its symptom shows, its heal
time, and the time until the cluster is healthy again.

    .venv/bin/python -m benchmarks.fault_effects [--cluster NAME] [--app PROFILE] [--target node2] [--json FILE] [FAULT ...]

Needs `chaos-harness cluster up` first. Prints a Markdown row per fault. The
symptom is timed from the start of inject, so "engine's reaction" (symptom
minus inject) is what the engine and the network took on top of the
harness's own command.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.faults.conformance import built_in_faults, exercise

HEADER = ("| fault | target | inject (harness) | symptom after | engine's reaction | heal | healthy after heal | "
          "symptom before / verify after inject / after heal |\n|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faults", nargs="*", help="faults to measure (default: all)")
    parser.add_argument("--cluster", default="chaos")
    parser.add_argument("--target", default="node2")
    parser.add_argument("--app", default=str(DEFAULT_PROFILE), help="app profile deployed while faults run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    cluster = Cluster(ClusterConfig(name=args.cluster))
    app = App.prepare(load_profile(args.app), cluster.builder)
    print(HEADER)
    trials = []
    for kind in args.faults or built_in_faults():
        trial = exercise(cluster, app, kind, args.target)
        trials.append(asdict(trial))
        print(f"| {kind} | {trial.target} | {trial.inject_took:.2f} s | {trial.effect_after:.2f} s | "
              f"{trial.effect_after - trial.inject_took:.2f} s | {trial.heal_took:.2f} s | {trial.healthy_after:.1f} s | "
              f"{trial.symptom_before} / {trial.held_after_inject} / {trial.held_after_heal} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(trials, indent=2))


if __name__ == "__main__":
    main()
