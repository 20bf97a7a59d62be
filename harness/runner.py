"""One scenario run: phases in order, every step in the journal, faults always healed.

    prepare  the stack converged on the old version, serving through the LB
    warmup   load running, no change
    upgrade  the strategy upgrades; faults fire on their triggers
    rollback only with strategy.rollback_after: wait that long, ask for a rollback, let it settle
    observe  the system after the upgrade settled; its tail verifies rollback

Whatever happens (failure, Ctrl-C, SIGTERM), faults are healed from the heal
ledger and the load process is stopped before the run ends.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness import stack
from harness.analysis import analyze_run_dir
from harness.cluster import Cluster
from harness.cluster.logs import collect_logs
from harness.engine.base import Engine
from harness.errors import HarnessError, RunInterrupted
from harness.faults.base import FaultContext
from harness.faults.schedule import FaultScheduler
from harness.journal import JOURNAL_FILE, Journal
from harness.ledger import HealLedger
from harness.load.runner import SAMPLES_FILE, LoadProcess, SampleTail
from harness.report import write_run_reports
from harness.scenario import Scenario
from harness.strategies import UpgradeStrategy, build
from harness.strategies.base import running_versions
from harness.waiting import wait_until
from harness.watch import EngineWatcher, Snapshots

POLL_INTERVAL = 0.5
READBACK_TIMEOUT = 30.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """Where a run's files are and what its report says."""

    run_dir: Path
    report: dict


class Runner:
    """Runs one scenario, its strategy kind resolved (``Scenario.under``), against a cluster that is up."""

    def __init__(self, scenario: Scenario, cluster: Cluster, reports_dir: Path,
                 progress: Progress = lambda _: None, live: Progress = lambda _: None) -> None:
        self.scenario = scenario
        self.cluster = cluster
        self.run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{scenario.name}-{scenario.strategy.kind}"
        self.run_dir = reports_dir / self.run_id
        self._progress = progress
        self._live = live
        self._phase_starts: dict[str, float] = {}
        self._samples = SampleTail(self.run_dir / SAMPLES_FILE)

    def run(self) -> RunResult:
        """Run every phase; return the analysed result (also rendered into the run directory's reports)."""
        self.run_dir.mkdir(parents=True, exist_ok=False)
        self._progress(f"run directory {self.run_dir}")
        journal = Journal(self.run_dir / JOURNAL_FILE)
        engine = self.cluster.engine
        scenario = self.scenario
        load = LoadProcess(self.cluster.lb_url, self.run_dir, scenario.load.rate, scenario.load.timeout,
                           scenario.load.write_ratio, max_seconds=self._max_seconds())
        faults = FaultScheduler(scenario.faults, FaultContext(self.cluster), journal, HealLedger(self.run_dir),
                                self.cluster.config.name)
        auth = self.cluster.secure_registry().auth() if scenario.stack.registry == "authenticated" else None
        upgrade = build(scenario, self.cluster, auth)
        watcher = EngineWatcher(engine, journal, upgrade.services)
        started = journal.write(
            "run.start", run_id=self.run_id, scenario=scenario.model_dump(mode="json"),
            cluster={"name": self.cluster.config.name, "nodes": self.cluster.state.nodes,
                     "provider": self.cluster.state.provider},
            load={"rate": scenario.load.rate, "timeout": scenario.load.timeout, "users": load.users,
                  "target": self.cluster.lb_url}).t
        status, failure = "failed", None
        try:
            with _signals_raise_interrupt():
                with self._phase(journal, "prepare"):
                    stack.deploy_and_wait(engine, self.cluster.state, scenario.stack, auth)
                    if scenario.stack.fresh_pull:
                        stack.forget_image(self.cluster.state.nodes, self.cluster.exec,
                                           stack.web_image(scenario.stack, scenario.stack.to_version))
                load.start()
                journal.write("load.start", pid=load.pid, users=load.users, rate=load.rate)
                with self._phase(journal, "warmup"):
                    self._watch(watcher, faults, upgrade, scenario.phases.warmup, load)
                with self._phase(journal, "upgrade"):
                    upgrade.start(journal)
                    outcome = self._settle(journal, "upgrade.settled", watcher, faults, upgrade, load)
                if scenario.strategy.rollback_after is not None and outcome == "completed":
                    with self._phase(journal, "rollback"):
                        self._watch(watcher, faults, upgrade, scenario.strategy.rollback_after, load)
                        upgrade.request_rollback(journal)
                        self._settle(journal, "rollback.settled", watcher, faults, upgrade, load)
                with self._phase(journal, "observe"):
                    self._watch(watcher, faults, upgrade, scenario.phases.observe, load)
                    self._record_final(journal, engine, upgrade.live_service())
            status = "completed"
        except (KeyboardInterrupt, RunInterrupted) as error:
            status, failure = "interrupted", RunInterrupted(f"run {self.run_id} interrupted; faults were healed")
            failure.__cause__ = error
        except HarnessError as error:
            journal.write("run.error", error=str(error), kind=type(error).__name__)
            failure = error
        finally:
            with _signals_deferred():
                self._progress("healing faults and stopping load")
                faults.heal_all()
                journal.write("load.stop", exit_code=load.stop())
                self._readback(journal)
                services = (stack.LB_SERVICE, stack.DB_SERVICE, *upgrade.services)
                journal.write("logs.collected", files=collect_logs(self.cluster, self.cluster.state.nodes, services,
                                                                       started, self.run_dir))
                journal.write("run.end", status=status)
                journal.close()
        report = analyze_run_dir(self.run_dir)
        write_run_reports(self.run_dir, report)
        if failure is not None:
            raise failure
        return RunResult(self.run_dir, report)

    # -- phases -------------------------------------------------------------------------

    @contextmanager
    def _phase(self, journal: Journal, name: str) -> Iterator[None]:
        self._progress(f"phase {name}")
        self._phase_starts[name] = journal.write("phase.start", phase=name).t
        yield
        journal.write("phase.end", phase=name)

    def _watch(self, watcher: EngineWatcher, faults: FaultScheduler, upgrade: UpgradeStrategy,
               seconds: float, load: LoadProcess) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            self._tick(watcher, faults, upgrade, load)

    def _settle(self, journal: Journal, event: str, watcher: EngineWatcher, faults: FaultScheduler,
                upgrade: UpgradeStrategy, load: LoadProcess) -> str:
        """Tick until the strategy settles (or its time is up); journal ``event`` with the outcome."""
        deadline = time.time() + self.scenario.strategy.timeout
        outcome = None
        while outcome is None:
            snapshots = self._tick(watcher, faults, upgrade, load)
            outcome = upgrade.advance(snapshots, journal) if snapshots is not None else None
            if outcome is None and time.time() >= deadline:
                outcome = upgrade.give_up(watcher.last, journal)
        journal.write(event, outcome=outcome, **upgrade.facts(watcher.last), running=running_versions(watcher.last))
        self._progress(f"{event.split('.')[0]} {outcome}")
        return outcome

    def _tick(self, watcher: EngineWatcher, faults: FaultScheduler, upgrade: UpgradeStrategy,
              load: LoadProcess) -> Snapshots | None:
        started = time.time()
        snapshots = watcher.poll()
        snapshot = snapshots.get(upgrade.live_service()) if snapshots else None
        faults.tick(self._phase_starts, snapshot, upgrade.tasks_replaced(snapshots) if snapshots else 0)
        if not load.running():
            raise HarnessError(f"the load process stopped early; see {load.log_path}")
        self._show_live(snapshots, upgrade)
        time.sleep(max(0.0, POLL_INTERVAL - (time.time() - started)))
        return snapshots

    def _show_live(self, snapshots: Snapshots | None, upgrade: UpgradeStrategy) -> None:
        """One status line: phase and its age, request rate, failures, the live service's update state."""
        now = time.time()
        phase = max(self._phase_starts, key=self._phase_starts.get)
        rate = self._samples.poll(now)
        live = (snapshots or {}).get(upgrade.live_service())
        engine = f" · {live.name} {live.update_state}" if live and live.update_state else ""
        self._live(f"{phase} {now - self._phase_starts[phase]:.0f}s · {rate:.1f} req/s · "
                   f"{self._samples.failed} of {self._samples.total} failed{engine}")

    def _record_final(self, journal: Journal, engine: Engine, service: str) -> None:
        """The live service as the engine sees it, and as the nodes' processes show it."""
        snapshot = engine.service(service)
        state = self.cluster.state
        journal.write("engine.final", service=service, replicas=snapshot.replicas,
                      update_state=snapshot.update_state, running=running_versions({service: snapshot})[service],
                      processes=stack.census(self.cluster.exec, state.nodes, service))

    def _readback(self, journal: Journal) -> None:
        """Read every stored write id back through the load balancer."""
        def fetch() -> list[str]:
            with urllib.request.urlopen(f"{self.cluster.lb_url}/writes", timeout=3) as response:
                return response.read().decode().split()
        try:
            ids = wait_until(lambda: [fetch()], timeout=READBACK_TIMEOUT, what="the write read-back")[0]
            journal.write("readback", ok=True, ids=ids)
        except HarnessError as error:
            journal.write("readback", ok=False, error=str(error))

    def _max_seconds(self) -> float:
        phases, strategy = self.scenario.phases, self.scenario.strategy
        rollback = 0.0 if strategy.rollback_after is None else strategy.rollback_after + strategy.timeout
        return phases.warmup + strategy.timeout + rollback + phases.observe + 300


@contextmanager
def _signals_raise_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C: the run unwinds through its ``finally``."""
    def interrupt(signum, _frame):
        raise RunInterrupted(f"received signal {signal.Signals(signum).name}")
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """While healing, a second Ctrl-C or SIGTERM is noted but does not cut the heals short."""
    received: list[int] = []
    handlers = {sig: signal.signal(sig, lambda s, _f: received.append(s)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if received:
            raise RunInterrupted("interrupted again while healing; faults were healed first")
