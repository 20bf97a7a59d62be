"""How steadily the load generator holds a rate through the load balancer to a healthy stack, and who uses
the CPU meanwhile.

    .venv/bin/python -m benchmarks.load_capacity [--cluster NAME] [--app PROFILE] [--json FILE] RATE[:SECONDS] ...

Needs `chaos-harness cluster up` first. Deploys the app's old release, then
for each rate runs the harness's own load (Locust, open schedule; default 60 s
a rate) and prints a Markdown row: rate sent, per-second CV, failures,
schedule lag, and the cores used by the load process and by each part of the
cluster (the load balancer, the app's services, the node engines), so that a
ceiling names its bottleneck.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness.analysis.samples import read_samples
from harness.analysis.steadiness import steadiness
from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.load.runner import LoadProcess
from harness.scenario import Stack
from harness.stack import router
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait

from benchmarks.usage import Stopwatch, cluster_parts

TIMEOUT = 1.0
DEFAULT_SECONDS = 60.0
HEADER = ("| rate asked | sent | per-second CV | failed | schedule lag p50 / p99 / max | cores: load process | "
          "cores: the rest, by part |\n|---|---|---|---|---|---|---|")


def measure(cluster: Cluster, app: App, rate: float, seconds: float) -> dict:
    """One rate for ``seconds``: the steadiness figures, failures, and cores per part."""
    with tempfile.TemporaryDirectory(prefix="load-capacity-") as scratch:
        load = LoadProcess(cluster.lb_url, Path(scratch), rate, TIMEOUT, 0.0, seconds + 30,
                           app.profile.model.load.model_dump(mode="json"), own_hosts=cluster.state.addresses)
        load.start()
        try:
            time.sleep(2.0)  # connections opened, the schedule running
            state = cluster.state
            stopwatch = Stopwatch(cluster_parts(cluster, load.pid, {state.lb_port, state.lb_admin_port}))
            time.sleep(seconds)
            cores = stopwatch.cores()
        finally:
            load.stop()
        samples = read_samples(load.samples_path)
    errors = Counter(str(s.error) for s in samples if not s.ok)
    return {"seconds": seconds, "failed": sum(errors.values()), "errors": dict(errors), "samples": len(samples),
            "cores": cores, **steadiness(samples, rate).as_dict()}


def row(figures: dict) -> str:
    lag = " / ".join("-" if figures[k] is None else f"{figures[k] * 1000:.1f} ms"
                     for k in ("lag_p50", "lag_p99", "lag_max"))
    cores = dict(figures["cores"])
    load = cores.pop("load", 0.0)
    rest = ", ".join(f"{part} {used:.2f}" for part, used in sorted(cores.items(), key=lambda i: -i[1]) if used >= 0.005)
    return (f"| {figures['rate']:g}/s for {figures['seconds']:g} s | {figures['achieved'] or 0:.1f}/s | "
            f"{figures['cv'] or 0:.1%} | {figures['failed']} of {figures['samples']}{_kinds(figures['errors'])} | {lag} | {load:.2f} | {rest} |")


def _kinds(errors: dict[str, int]) -> str:
    return f" ({', '.join(f'{kind} {count}' for kind, count in sorted(errors.items()))})" if errors else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rates", nargs="*", default=["50", "200", "1000"], help="RATE or RATE:SECONDS")
    parser.add_argument("--cluster", default="chaos")
    parser.add_argument("--app", default=str(DEFAULT_PROFILE))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    cluster = Cluster(ClusterConfig(name=args.cluster))
    app = App.prepare(load_profile(args.app), cluster.builder)
    app.push(cluster.push_image)
    deploy_and_wait(cluster.engine, router(cluster.state.lb_admin), stack_for(cluster, app, Stack()))
    print(HEADER)
    results = []
    for text in args.rates:
        rate, _, seconds = text.partition(":")
        results.append(measure(cluster, app, float(rate), float(seconds or DEFAULT_SECONDS)))
        print(row(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
