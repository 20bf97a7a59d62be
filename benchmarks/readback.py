"""The final read-back's speed: acknowledged writes read back through the load balancer and judged by checks.

    .venv/bin/python -m benchmarks.readback [--cluster chaos] [--app demo] [--writes 10000] [--json FILE]

Needs `chaos-harness cluster up` first. Deploys the app's old release (as a
run's prepare does), makes ``--writes`` acknowledged writes through the load
balancer, then times ``harness.stack.writes.read_all`` over them, the code a
run's read-back step runs: with the profile's listing (``writes.read_all``)
when it has one, then one request per write. Goal (issue 20): 10,000 writes
in <= 3 s. Prints a line per way of reading.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.http import CONNECTIONS
from harness.scenario import Stack
from harness.stack import AppStack, router, writes
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait

GOAL_SECONDS = 3.0
GOAL_WRITES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="chaos")
    parser.add_argument("--app", type=Path, default=DEFAULT_PROFILE)
    parser.add_argument("--writes", type=int, default=GOAL_WRITES)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    cluster = Cluster(ClusterConfig(name=args.cluster))
    app = App.prepare(load_profile(args.app), cluster.builder)
    app.push(cluster.push_image)
    stack = stack_for(cluster, app, Stack())
    deploy_and_wait(cluster.engine, router(cluster.state.lb_admin), stack)
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        made = list(pool.map(lambda _: writes.write(stack, f"bench-{uuid.uuid4().hex}"), range(args.writes)))
    acknowledged = [w.values for w in made if w.acknowledged]
    ways = {"one by one": one_by_one(stack)}
    if stack.profile.model.writes.read_all is not None:
        ways = {"listing first": stack, **ways}
    figures = {how: measure(how, way, acknowledged) for how, way in ways.items()}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def one_by_one(stack: AppStack) -> AppStack:
    """The stack with its profile's listing left out: every write is read on its own."""
    profile = stack.profile
    probe = profile.model.writes.model_copy(update={"read_all": None})
    return replace(stack, profile=replace(profile, model=profile.model.model_copy(update={"writes": probe})))


def measure(how: str, stack: AppStack, acknowledged: list[dict]) -> dict:
    """Time one read-back of ``acknowledged``; print its line."""
    started, cpu = time.monotonic(), time.process_time()
    results = writes.read_all(stack, acknowledged, timeout=60)
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    outcomes = {o: sum(r.outcome == o for r in results) for o in ("present", "absent", "unverifiable")}
    goal = "met" if seconds * GOAL_WRITES / max(len(acknowledged), 1) <= GOAL_SECONDS else "NOT met"
    print(f"{len(acknowledged):,} acknowledged writes of {stack.profile.name} read back ({how}) in {seconds:.2f} s "
          f"({len(acknowledged) / seconds:,.0f}/s, harness CPU {cpu:.2f} s, {CONNECTIONS} at a time): {outcomes}; "
          f"goal {GOAL_WRITES:,} in <= {GOAL_SECONDS:g} s: {goal}", flush=True)
    return {"writes": len(acknowledged), "seconds": seconds, "cpu": cpu, **outcomes}


if __name__ == "__main__":
    main()
