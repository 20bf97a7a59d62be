"""One scenario run: phases in order, every step in the journal, faults always healed.

    prepare  what the faults need checked against the cluster; the stack converged on the old version,
             serving through the LB
    warmup   load running, no change
    upgrade  the strategy upgrades; faults fire on their triggers
    rollback only with strategy.rollback_after: wait that long, ask for a rollback, let it settle
    observe  the system after the upgrade settled; its tail verifies rollback

Whatever happens (failure, Ctrl-C, SIGTERM), faults are healed from the heal
ledger and the load process is stopped before the run ends.

A run ends ``completed``, ``failed``, ``interrupted`` or ``refused``: the
scenario, the app profile or the command asked for what cannot be done
(exit 2) and prepare found it before the load started. A refused run
measured nothing: its directory keeps the journal (with the reason in
``run.error``), the logs and reports that say REFUSED, and no expectation
is judged.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.analysis import analyze_run_dir
from harness.analysis.samples import iter_samples
from harness.analysis.timings import timings
from harness.app import App
from harness.cluster import Cluster
from harness.cluster.config import Target
from harness.cluster.logs import collect_logs
from harness.cluster.registry import SECURE_REGISTRY
from harness.engine.base import Engine, RegistryAuth, ServiceSnapshot
from harness.errors import ClusterError, HarnessError, RunInterrupted, ScenarioError
from harness.faults.base import FaultContext, NodeControl
from harness.faults.schedule import FaultScheduler
from harness.journal import JOURNAL_FILE, Journal, read_journal
from harness.ledger import HealLedger
from harness.load.runner import LoadProcess, SampleTail
from harness.models import format_errors
from harness.report import TIMED_FILES, write_run_reports
from harness.scenario import Scenario
from harness.checks import OUTCOMES, values_of
from harness.jsonl import write_jsonl
from harness.stack import BLUE, LB_SERVICE, SLOTS, AppStack, router, writes
from harness.runfiles import READBACK_FILE, SAMPLES_FILE
from harness.stack.from_spec import stack_for
from harness.stack.prepare import census, deploy_and_wait, forget_image
from harness.strategies import UpgradeStrategy, build
from harness.strategies.base import running_versions
from harness.watch import EngineWatcher, Snapshots

POLL_INTERVAL = 0.5
READBACK_TIMEOUT = 60.0
STOP_MARGIN = 3.0  # seconds a runtime may take past a task's grace period to have stopped it
MAX_STOP_WAIT = 60.0  # seconds the final census waits for stopping tasks at most, whatever their grace period
CENSUS_UNREAD = "an existing cluster: the harness reaches it through its API only, not its nodes"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """Where a run's files are and what its report says."""

    run_dir: Path
    report: dict


@dataclass
class _Parts:
    """What one run is made of, wired together before the first phase."""

    journal: Journal
    stack: AppStack
    load: LoadProcess
    faults: FaultScheduler
    upgrade: UpgradeStrategy
    watcher: EngineWatcher
    auth: RegistryAuth | None


class Runner:
    """Runs one scenario, its strategy kind resolved (``Scenario.under``), on an app, against a cluster that is up."""

    def __init__(self, scenario: Scenario, cluster: Cluster, reports_dir: Path, app: App,
                 progress: Progress = lambda _: None, live: Progress = lambda _: None) -> None:
        self.scenario = _at_app_rate(scenario, app)
        self.cluster = cluster
        self.app = app
        self.run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{scenario.name}-{scenario.strategy.kind}"
        self.run_dir = reports_dir / self.run_id
        self._progress = progress
        self._live = live
        self._phase_starts: dict[str, float] = {}
        self._load_stopped = False
        self._samples = SampleTail(self.run_dir / SAMPLES_FILE)
        self.status = "not started"  # how the run ended, once it has: completed, failed, interrupted or refused

    def run(self) -> RunResult:
        """Run every phase; return the analysed result (also rendered into the run directory's reports)."""
        self.run_dir.mkdir(parents=True, exist_ok=False)
        self._progress(f"run directory {self.run_dir}")
        parts = self._assemble()
        started = self._journal_start(parts)
        status, failure = "failed", None
        try:
            with _signals_raise_interrupt():
                self._phases(parts)
            status = "completed"
        except (KeyboardInterrupt, RunInterrupted) as error:
            status, failure = "interrupted", RunInterrupted(f"run {self.run_id} interrupted; faults were healed")
            failure.__cause__ = error
        except HarnessError as error:
            status = "refused" if self._refused(error) else "failed"
            parts.journal.write("run.error", error=str(error), kind=type(error).__name__)
            failure = error
        finally:
            self.status = status
            with _signals_deferred():
                self._wind_down(parts, started, status)
        report = _report(self.run_dir, parts.journal)
        if failure is not None:
            raise failure
        return RunResult(self.run_dir, report)

    def _refused(self, error: HarnessError) -> bool:
        """Whether ``error`` refuses the run: the user's input cannot work (exit 2), found before the load started."""
        return error.exit_code == 2 and "warmup" not in self._phase_starts

    # -- steps ----------------------------------------------------------------------------

    def _assemble(self) -> _Parts:
        """Wire the stack, load, faults, strategy and watcher for this run."""
        scenario, cluster = self.scenario, self.cluster
        stack = stack_for(cluster, self.app, scenario.stack, server_timeout=max(2.0, 2 * scenario.load.timeout),
                          switch=scenario.strategy.kind == "service-switch")
        journal = Journal(self.run_dir / JOURNAL_FILE)
        profile = self.app.profile
        model = profile.model
        load = LoadProcess(cluster.lb_url, self.run_dir, scenario.load.rate, scenario.load.timeout,
                           scenario.load.write_ratio, self._max_seconds(), model.load.model_dump(mode="json", by_alias=True),
                           model.writes.model_dump(mode="json", by_alias=True) if model.writes else None,
                           profile.relative(model.load.locustfile) if model.load.locustfile else None,
                           own_hosts=cluster.state.addresses)
        auth = cluster.secure_registry().auth() if scenario.stack.registry == "authenticated" else None
        upgrade = build(scenario, cluster, stack, auth)
        faults = FaultScheduler(scenario.faults, FaultContext(cluster, stack.services()[0], deployed(stack, upgrade)),
                                journal, HealLedger(self.run_dir), cluster.config.name,
                                stateful=tuple(BLUE.service(s) for s in stack.stateful), service_name=BLUE.service,
                                stateful_floats=scenario.stack.stateful_placement == "floating")
        return _Parts(journal, stack, load, faults, upgrade, EngineWatcher(cluster.engine, journal, upgrade.services),
                      auth)

    def _journal_start(self, parts: _Parts) -> float:
        stack, cluster = parts.stack, self.cluster
        return parts.journal.write(
            "run.start", run_id=self.run_id, scenario=self.scenario.model_dump(mode="json", by_alias=True),
            app={"name": stack.profile.name, "profile": str(stack.profile.path), "old": stack.old, "new": stack.new,
                 "entry": stack.entry, "upgraded": list(stack.upgraded), "writes": stack.profile.model.writes is not None,
                 "revision": stack.profile.revision, "form": stack.options.form,
                 "changes": list(stack.profile.notes.get(stack.options.form, ()))},
            cluster={"name": cluster.config.name, "nodes": cluster.state.nodes, "provider": cluster.state.provider,
                     "engine": cluster.state.engine, "engine_version": cluster.engine.version(),
                     "machine": socket.gethostname(),  # whose clock timed the run: compare names it
                     **_target_record(cluster.target)},
            load={"rate": self.scenario.load.rate, "timeout": self.scenario.load.timeout,
                  "rate_from": "app profile" if self.app.profile.model.load.rate else "scenario",
                  "users": parts.load.users, "target": cluster.lb_url}).t

    def _phases(self, parts: _Parts) -> None:
        journal, upgrade, scenario = parts.journal, parts.upgrade, self.scenario
        with self._phase(journal, "prepare"):
            self._prepare(parts)
        parts.load.start()
        journal.write("load.start", pid=parts.load.pid, users=parts.load.users, rate=parts.load.rate)
        with self._phase(journal, "warmup"):
            self._watch(parts, scenario.phases.warmup)
        with self._phase(journal, "upgrade"):
            self._tick(parts)  # faults due as the upgrade begins (tasks_replaced: 0) strike before it is requested
            upgrade.start(journal)
            outcome = self._settle(parts, "upgrade.settled")
        if scenario.strategy.rollback_after is not None and outcome == "completed":
            with self._phase(journal, "rollback"):
                self._watch(parts, scenario.strategy.rollback_after)
                upgrade.request_rollback(journal)
                self._settle(parts, "rollback.settled")
        with self._phase(journal, "observe"):
            self._watch(parts, scenario.phases.observe)
        # The final look runs commands on every node: the clients are gone by then, so that
        # it never shows in what they measured. Faults still hold (a frozen engine must be seen).
        self._stop_load(parts)
        self._record_final(journal, self.cluster.engine, parts.stack, upgrade.live_service())

    def _prepare(self, parts: _Parts) -> None:
        """The app's images in the registry; the stack on its old release, healthy through the LB; the new
        release's images gone from the nodes."""
        cluster, stack = self.cluster, parts.stack
        check_fit(self.scenario, parts.faults, cluster)
        # from before the stack is deployed: a connection the load balancer opens for prepare's probes may be kept
        # alive and serve the load's first requests
        parts.upgrade.trace_start(parts.journal)
        self._progress(f"pushing the images of app {self.app.profile.name} to the cluster registry")
        self.app.push(cluster.push_image)
        cleared = deploy_and_wait(cluster.engine, router(cluster.state.lb_admin), stack, parts.auth,
                                  run_on=cluster.exec if cluster.reaches_nodes() else None)
        for volume in cleared:
            parts.journal.write("stack.stale_volume", **volume.record())
            self._progress(str(volume))
        if stack.profile.model.writes is not None:
            present, absent = writes.negative_control(stack)
            parts.journal.write("readback.control", written=present.record(), never_written=absent.record())
        if self.scenario.stack.fresh_pull and not cluster.reaches_nodes():
            parts.journal.write("stack.fresh_pull", done=False, why=CENSUS_UNREAD)
        elif self.scenario.stack.fresh_pull:
            forget_image(cluster.state.nodes, cluster.exec, [stack.image(s, stack.new) for s in stack.upgraded],
                         cluster.engine.runtime)

    def _wind_down(self, parts: _Parts, started: float, status: str) -> None:
        """Heal, stop the load, read writes back, collect logs: whatever happened before."""
        journal = parts.journal
        self._progress("healing faults and stopping load")
        with _step(journal, "heal"):
            parts.faults.heal_all()
        self._stop_load(parts)
        try:
            parts.upgrade.trace_stop(self.run_dir, journal)
        except HarnessError as error:  # the requests are then attributed as far as the load balancer says
            journal.write("connections.collected", error=str(error))
        with _step(journal, "read_back"):
            self._readback(journal, parts.stack)
        with _step(journal, "logs"):
            journal.write("logs.collected", files=collect_logs(
                self.cluster, self.cluster.state.nodes, deployed(parts.stack, parts.upgrade), started, self.run_dir))
        journal.write("run.end", status=status)

    # -- phases -------------------------------------------------------------------------

    @contextmanager
    def _phase(self, journal: Journal, name: str) -> Iterator[None]:
        self._progress(f"phase {name}")
        self._phase_starts[name] = journal.write("phase.start", phase=name).t
        yield
        journal.write("phase.end", phase=name)

    def _watch(self, parts: _Parts, seconds: float) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            self._tick(parts)

    def _settle(self, parts: _Parts, event: str) -> str:
        """Tick until the strategy settles (or its time is up); journal ``event`` with the outcome."""
        journal, upgrade, watcher = parts.journal, parts.upgrade, parts.watcher
        deadline = time.time() + self.scenario.strategy.timeout
        outcome = None
        while outcome is None:
            snapshots = self._tick(parts)
            outcome = upgrade.advance(snapshots, journal) if snapshots is not None else None
            if outcome is None and time.time() >= deadline:
                outcome = upgrade.give_up(watcher.last, journal)
        journal.write(event, outcome=outcome, **upgrade.facts(watcher.last), running=running_versions(watcher.last))
        self._progress(f"{event.split('.')[0]} {outcome}")
        return outcome

    def _tick(self, parts: _Parts) -> Snapshots | None:
        started, upgrade = time.time(), parts.upgrade
        snapshots = parts.watcher.poll()
        snapshot = snapshots.get(upgrade.live_service()) if snapshots else None
        parts.faults.tick({**self._phase_starts, **upgrade.steps}, snapshot,
                          upgrade.tasks_replaced(snapshots) if snapshots else 0)
        if not parts.load.running():
            raise HarnessError(f"the load process stopped early; see {parts.load.log_path}")
        self._show_live(snapshots, upgrade)
        time.sleep(max(0.0, POLL_INTERVAL - (time.time() - started)))
        return snapshots

    def _show_live(self, snapshots: Snapshots | None, upgrade: UpgradeStrategy) -> None:
        """One status line: phase and its age, request rate, failures, and the live service's update state once an
        update of this run started (an older one is an earlier run's)."""
        now = time.time()
        phase = max(self._phase_starts, key=self._phase_starts.get)
        rate = self._samples.poll(now)
        live = (snapshots or {}).get(upgrade.live_service())
        ours = live is not None and (live.update_started_at or 0) >= self._phase_starts.get("upgrade", now) - 1
        engine = f" · {live.name} {live.update_state}" if ours and live.update_state else ""
        self._live(f"{phase} {now - self._phase_starts[phase]:.0f}s · {rate:.1f} req/s · "
                   f"{self._samples.failed} of {self._samples.total} failed{engine}")

    def _stop_load(self, parts: _Parts) -> None:
        """Stop the load process (once) and journal its exit code."""
        if not self._load_stopped:
            self._load_stopped = True
            parts.journal.write("load.stop", exit_code=parts.load.stop())

    def _record_final(self, journal: Journal, engine: Engine, stack: AppStack, live: str) -> None:
        """The live upgraded services as the engine sees them, and as the nodes' processes show them."""
        slot = next(s for s in SLOTS if live == s.service(stack.entry))
        for service in stack.services(slot):
            snapshot = engine.service(service)
            running = running_versions({service: snapshot})[service]
            counted = self.cluster.reaches_nodes()  # an existing cluster's nodes are not the harness's to read
            processes, waited = self._final_census(engine, snapshot, running) if counted else (None, 0.0)
            journal.write("engine.final", service=service, replicas=snapshot.replicas,
                          update_state=snapshot.update_state, running=running, processes=processes,
                          census=None if counted else CENSUS_UNREAD, census_waited=round(waited, 3))

    def _final_census(self, engine: Engine, snapshot: ServiceSnapshot, running: dict) -> tuple[dict, float]:
        """Every node's processes of the service, and how long the harness waited for them: while a task the engine
        is stopping is within its grace period (a pod being deleted) and a node still runs a release the engine
        runs no task of, looked at again every second until that grace period ends (``MAX_STOP_WAIT`` at most). A
        container still there afterwards (its node frozen) is what the census is for."""
        started = time.time()
        grace_ends = min(max((t.stops_by for t in snapshot.tasks if t.desired_state != "running"), default=0.0),
                         started + MAX_STOP_WAIT)
        while True:
            found = census(self.cluster.exec, self.cluster.state.nodes, snapshot.name, engine.runtime)
            stray = {v for counts in found.values() for v in counts or {}} - set(running)
            if not stray or time.time() >= grace_ends + STOP_MARGIN:
                return found, time.time() - started
            time.sleep(1.0)

    def _readback(self, journal: Journal, stack: AppStack) -> None:
        """Read every acknowledged write back through the load balancer, judged by the profile's read check; each
        outcome into ``readback.jsonl``, the counts into the journal."""
        if stack.profile.model.writes is None:
            journal.write("readback", ok=True, measured=False)
            return
        acknowledged = {s.write_id: values_of(s.write_id, s.captured)
                        for s in iter_samples(self.run_dir / SAMPLES_FILE) if s.ok and s.write_id}
        results = writes.read_all(stack, acknowledged.values(), READBACK_TIMEOUT)
        write_jsonl(self.run_dir / READBACK_FILE, (r.record() for r in results))
        counts = Counter(r.outcome for r in results)
        journal.write("readback", ok=True, measured=True, file=READBACK_FILE, acknowledged=len(acknowledged),
                      **{outcome: counts[outcome] for outcome in OUTCOMES})

    def _max_seconds(self) -> float:
        phases, strategy = self.scenario.phases, self.scenario.strategy
        rollback = 0.0 if strategy.rollback_after is None else strategy.rollback_after + strategy.timeout
        return phases.warmup + strategy.timeout + rollback + phases.observe + 300


def deployed(stack: AppStack, upgrade: UpgradeStrategy) -> tuple[str, ...]:
    """The engine's names of every service a run deploys: the load balancer, the app's, the upgraded ones."""
    return (LB_SERVICE, *(BLUE.service(s) for s in stack.profile.services if s not in stack.upgraded),
            *upgrade.services)


def check_fit(scenario: Scenario, faults: FaultScheduler, cluster: NodeControl) -> None:
    """Before the first phase: ScenarioError (exit 2) for what the scenario names and the cluster lacks, each
    problem with its key and what the cluster has; ClusterError (exit 3) for what the cluster should have."""
    misfit = scenario.misfit(cluster.state.engine)
    problems = [] if misfit is None else [misfit]
    if "registry" not in cluster.offers():
        problems += _needs_registry(scenario)
    elif scenario.stack.registry == "authenticated":
        _require_secure_registry(cluster)
    problems += faults.misfits()
    if problems:
        raise ScenarioError(format_errors(Path(scenario.name), problems, Scenario, "scenario for this cluster"))


def _at_app_rate(scenario: Scenario, app: App) -> Scenario:
    """The scenario at the rate the app profile sets, if it sets one."""
    rate = app.profile.model.load.rate
    if rate is None:
        return scenario
    return scenario.model_copy(update={"load": scenario.load.model_copy(update={"rate": rate})})


def _report(run_dir: Path, journal: Journal) -> dict:
    """Analyse the run and render its reports, each a journalled step, and close the journal; then write the
    reports that show the timings (``TIMED_FILES``) once more, with the time those two steps took."""
    with closing(journal):
        with _step(journal, "analysis"):
            report = analyze_run_dir(run_dir)
        with _step(journal, "rendering"):
            write_run_reports(run_dir, report)
    report = {**report, "timings": timings(read_journal(journal.path))}
    write_run_reports(run_dir, report, names=TIMED_FILES)
    return report


@contextmanager
def _step(journal: Journal, name: str) -> Iterator[None]:
    """One of the harness's own steps, between ``step.start`` and ``step.end`` (``harness.analysis.timings``)."""
    journal.write("step.start", step=name)
    try:
        yield
    finally:
        journal.write("step.end", step=name)


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


def _target_record(target: Target | None) -> dict:
    """An existing cluster as the journal keeps it: its kubeconfig, context and registry, and whether the user
    vouched for it (--i-own-this-cluster) or it was marked as a test cluster."""
    if target is None:
        return {}
    return {"target": {"kubeconfig": target.kubeconfig, "context": target.context, "registry": target.registry,
                       "i_own_this_cluster": target.owned}}


def _needs_registry(scenario: Scenario) -> list[dict]:
    """The scenario's stack asking for the harness's authenticated registry, on a cluster without the harness's
    registries (an existing one: it pulls from the user's)."""
    if scenario.stack.registry != "authenticated":
        return []
    return [{"loc": ("stack", "registry"), "input": "authenticated",
             "msg": "not on this cluster: it pulls from your registry, and the harness's authenticated one exists "
                    "only on clusters it makes"}]


def _require_secure_registry(cluster: NodeControl) -> None:
    """ClusterError unless the authenticated registry is on the cluster network and takes the cluster's password."""
    node, host = next(iter(cluster.node_addresses())), SECURE_REGISTRY.split(":")[0]
    if not cluster.exec(node, ["getent", "hosts", host]).ok:
        raise ClusterError(f"the authenticated registry ({host}) is missing: {node} cannot resolve it; "
                           "run `chaos-harness cluster up` to start it")
    registry = cluster.secure_registry()
    if not registry.accepts(registry.auth()):
        raise ClusterError(f"the authenticated registry ({host}) refuses the cluster's credentials "
                           "(a crashed run may have rotated them); run `chaos-harness heal`")
