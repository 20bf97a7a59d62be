"""A calibration on a running cluster: the app deployed, load at each rate, outages of known length.

Every outage ends by itself even if the calibration is killed. A refusal is
started and ended from this process through HAProxy's runtime API, each call
stamped by this process's clock, with the route back set on a timer on the
load balancer's node first (``refusal``). A black hole is recorded in the
calibration's heal ledger, then runs as one script on the load balancer's
node that starts it, holds it and ends it, each command stamped by the
node's clock (the host's: containers share its kernel).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from itertools import product
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.samples import read_samples
from harness.analysis.steadiness import Steadiness, steadiness
from harness.app import App
from harness.calibration.measure import KnownOutage, Trial, measure
from harness.calibration.plan import CalibrationPlan
from harness.calibration.refusal import Refusal, Stamps
from harness.cluster import Cluster
from harness.cluster.config import LB_LABEL
from harness.errors import ClusterError
from harness.faults import registry
from harness.faults.base import FaultContext
from harness.faults.schedule import heal_pending
from harness.journal import JOURNAL_FILE, Journal
from harness.ledger import HealLedger, LedgerEntry
from harness.load.runner import LoadProcess, SampleTail
from harness.scenario import Stack
from harness.stack import router
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait
from harness.waiting import wait_until

STAMP = "date +%s.%N"
BLACKHOLE_FAULT = "lb-blackhole"
LOAD_START_TIMEOUT = 60.0  # seconds for Locust to start and the stack to answer


@dataclass(frozen=True)
class RateResult:
    """The trials at one rate and how steadily the load was sent meanwhile."""

    rate: float
    trials: tuple[Trial, ...]
    steadiness: Steadiness


class Calibration:
    """Runs a plan against ``app`` on ``cluster``, its files in ``out_dir``."""

    def __init__(self, cluster: Cluster, app: App, plan: CalibrationPlan, out_dir: Path,
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self.cluster, self.app, self.plan, self.out_dir = cluster, app, plan, out_dir
        self._progress = progress
        self._ctx = FaultContext(cluster)
        self._ledger = HealLedger(out_dir)
        self._count = 0

    def run(self) -> list[RateResult]:
        """Deploy the app's old release, then every rate in turn; faults healed whatever happens."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        journal = Journal(self.out_dir / JOURNAL_FILE)
        try:
            self._progress(f"deploying {self.app.profile.name} on cluster {self.cluster.config.name}")
            self.app.push(self.cluster.push_image)
            stack = stack_for(self.cluster, self.app, Stack())
            deploy_and_wait(self.cluster.engine, router(self.cluster.state.lb_admin), stack)
            hold = self._holder(self._lb_node())
            return [self._at_rate(rate, hold, journal) for rate in self.plan.rates]
        finally:
            heal_pending(self._ledger, self._ctx, journal)
            journal.close()

    def _lb_node(self) -> str:
        nodes = [n.hostname for n in self.cluster.engine.nodes() if n.labels.get(LB_LABEL) == "true"]
        if not nodes:
            raise ClusterError(f"no node is labelled {LB_LABEL}=true; run `chaos-harness cluster up` to label it")
        return nodes[0]

    def _holder(self, node: str) -> Callable[[str, float], Stamps]:
        """What makes an outage of a kind and length on the load balancer's ``node`` and returns its stamps."""
        refusal = Refusal(router(self.cluster.state.lb_admin), partial(self._arm, node))
        return lambda kind, duration: refusal.hold(duration) if kind == "refusal" else self._black_hole(node, duration)

    def _at_rate(self, rate: float, hold: Callable[[str, float], Stamps], journal: Journal) -> RateResult:
        plan = self.plan
        load = LoadProcess(self.cluster.lb_url, self._rate_dir(rate), rate, plan.timeout, 0.0,
                           plan.seconds() / len(plan.rates) + 60, self.app.profile.model.load.model_dump(mode="json"),
                           own_hosts=self.cluster.state.addresses)
        load.start()
        journal.write("load.start", pid=load.pid, rate=rate)
        outages = []
        try:
            self._await_answers(load)
            time.sleep(plan.gap)  # connections open, the schedule steady
            for kind, duration, repeat in product(plan.kinds, plan.durations, range(plan.repeats)):
                self._progress(f"{rate:g} req/s: {kind} outage of {duration:g}s ({repeat + 1}/{plan.repeats})")
                outage = KnownOutage(kind, rate, duration, hold(kind, duration))
                journal.write("outage", kind=kind, rate=rate, duration=duration, stamps=list(outage.stamps),
                              uncertainty=outage.uncertainty)
                outages.append(outage)
                time.sleep(plan.gap)
        finally:
            journal.write("load.stop", exit_code=load.stop())
        samples = read_samples(load.samples_path)
        trials = tuple(measure(samples, outage, plan.gap / 2) for outage in outages)
        return RateResult(rate, trials, steadiness(samples, rate))

    @staticmethod
    def _await_answers(load: LoadProcess) -> None:
        """Until the load has sent requests and had a success: Locust takes seconds to start, and an outage
        with no success before it is not measured as one."""
        tail = SampleTail(load.samples_path)
        wait_until(lambda: tail.poll(time.time()) > 0 and tail.total > tail.failed, timeout=LOAD_START_TIMEOUT,
                   what=f"the load's first answered request (see {load.log_path})", interval=0.1)

    def _rate_dir(self, rate: float) -> Path:
        path = self.out_dir / f"rate-{rate:g}"
        path.mkdir(exist_ok=True)
        return path

    def _arm(self, node: str, argv: list[str]) -> None:
        """Start a refusal's timer on ``node``."""
        result = self.cluster.exec(node, argv)
        if not result.ok:
            raise ClusterError(f"could not set the end of a refusal outage on {node}: {result.output.strip()[-300:]}")

    def _black_hole(self, node: str, duration: float) -> Stamps:
        """A black hole on ``node``, in the heal ledger while it lasts."""
        self._count += 1
        fault = registry.create(BLACKHOLE_FAULT, {}, node)
        entry = LedgerEntry(f"{self._count}-{fault.name}", fault.name, node, {}, self.cluster.config.name)
        self._ledger.record(entry)
        start, end = fault.shell(self._ctx)
        stamps = self._on_node(node, f"{STAMP}; {start}; {STAMP}; sleep {duration:.6f}; {STAMP}; {end}; {STAMP}")
        self._ledger.mark_healed(entry.id)
        return stamps

    def _on_node(self, node: str, script: str) -> Stamps:
        """The four stamps a script on ``node`` prints around the commands that start and end an outage."""
        result = self.cluster.exec(node, ["sh", "-c", f"set -e; {script}"])
        stamps = result.output.split()
        if not result.ok or len(stamps) != 4:
            raise ClusterError(f"the outage on {node} did not run: {result.output.strip()[-300:]}")
        return tuple(float(s) for s in stamps)
