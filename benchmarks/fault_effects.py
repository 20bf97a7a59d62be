"""Measure every fault on a running cluster: time from inject to its visible symptom, heal time,
and time until the cluster is healthy again.

    .venv/bin/python benchmarks/fault_effects.py [--cluster NAME] [--app PROFILE] [--target node2] [FAULT ...]

Needs `chaos-harness cluster up` first. Prints one row per fault.
"""

from __future__ import annotations

import argparse

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.faults.conformance import built_in_faults, exercise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faults", nargs="*", help="faults to measure (default: all)")
    parser.add_argument("--cluster", default="chaos")
    parser.add_argument("--target", default="node2")
    parser.add_argument("--app", default=str(DEFAULT_PROFILE), help="app profile deployed while faults run")
    args = parser.parse_args()
    cluster = Cluster(ClusterConfig(name=args.cluster))
    app = App.prepare(load_profile(args.app), cluster.builder)
    print(f"{'fault':<18} {'target':<7} {'inject->effect':>15} {'heal':>8} {'heal->healthy':>14}  "
          "symptom before / verify in / verify after")
    for kind in args.faults or built_in_faults():
        trial = exercise(cluster, app, kind, args.target)
        print(f"{kind:<18} {trial.target:<7} {trial.effect_after:>14.1f}s {trial.heal_took:>7.1f}s "
              f"{trial.healthy_after:>13.1f}s  {trial.symptom_before}/{trial.held_after_inject}/{trial.held_after_heal}",
              flush=True)


if __name__ == "__main__":
    main()
