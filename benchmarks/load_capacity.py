"""Measure how steadily the load generator holds a rate through the load balancer to a healthy stack.

    .venv/bin/python benchmarks/load_capacity.py [--cluster NAME] [--app PROFILE] [--seconds 60] [RATE ...]

Needs `chaos-harness cluster up` first. Deploys the app's old release, then
for each rate runs the harness's own load (Locust, open schedule) for
``--seconds`` and prints: achieved rate, per-second CV, failures, schedule
lag, and the CPU the load process used (in cores) beside the CPU of the load
balancer and of the app's entry tasks, so that a ceiling names its bottleneck.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.analysis.samples import read_samples
from harness.analysis.steadiness import steadiness
from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.load.runner import LoadProcess
from harness.runner import stack_for
from harness.scenario import Stack
from harness.stack import router
from harness.stack.prepare import deploy_and_wait

from benchmarks.cpu import Stopwatch, cluster_parts

TIMEOUT = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rates", nargs="*", type=float, default=[50.0, 200.0, 1000.0])
    parser.add_argument("--cluster", default="chaos")
    parser.add_argument("--app", default=str(DEFAULT_PROFILE))
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    cluster = Cluster(ClusterConfig(name=args.cluster))
    app = App.prepare(load_profile(args.app), cluster.builder)
    app.push(cluster.push_image)
    stack = stack_for(cluster, app, Stack())
    deploy_and_wait(cluster.engine, router(cluster.state.lb_admin_port), stack)
    print(f"{'rate':>6} {'achieved':>9} {'cv':>6} {'failed':>7} {'lag p50':>8} {'lag p99':>8} {'lag max':>8}  "
          "cores used by each part")
    for rate in args.rates:
        print(measure(cluster, app, rate, args.seconds), flush=True)


def measure(cluster: Cluster, app: App, rate: float, seconds: float) -> str:
    """One rate for ``seconds``: a table row."""
    with tempfile.TemporaryDirectory(prefix="load-capacity-") as scratch:
        load = LoadProcess(cluster.lb_url, Path(scratch), rate, TIMEOUT, 0.0, seconds + 30,
                           app.profile.model.load.model_dump(mode="json"))
        load.start()
        time.sleep(min(2.0, seconds / 10))  # connections opened, the schedule running
        state = cluster.state
        stopwatch = Stopwatch(cluster_parts(cluster, load.pid, {state.lb_port, state.lb_admin_port}))
        time.sleep(seconds)
        cores = stopwatch.cores()
        load.stop()
        samples = read_samples(load.samples_path)
    figures = steadiness(samples, rate)
    failed = sum(not s.ok for s in samples)
    lag = [f"{value * 1000:7.1f}ms" if value is not None else "       -" for value in
           (figures.lag_p50, figures.lag_p99, figures.lag_max)]
    return (f"{rate:>6g} {figures.achieved or 0:>9.1f} {figures.cv or 0:>6.1%} {failed:>7} {' '.join(lag)} "
            f" {', '.join(f'{part} {used:.2f}' for part, used in sorted(cores.items(), key=lambda i: -i[1]))}")


if __name__ == "__main__":
    main()
