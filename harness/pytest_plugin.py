"""pytest plugin (entry point ``pytest11``): scenario files as test items.

``pytest scenarios/`` collects every ``*.yaml`` in a directory named
``scenarios``; each file becomes one item per strategy, engine and repeat,
which runs the scenario on that engine's cluster and passes when every
expectation holds.
With ``--chaos-sweep`` a file becomes one item per point of a sweep (its
first fault struck at each point of the upgrade, see ``harness.sweep``).
A failure shows the expectation table; ``--junitxml`` works as for any test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.cluster.config import ENGINES
from harness.errors import HarnessError
from harness.scenario import STRATEGIES, Scenario, load_scenario

SCENARIO_DIR = "scenarios"
_clusters_key = pytest.StashKey[dict]()
_apps_key = pytest.StashKey[dict]()


class ExpectationsFailed(Exception):
    """A run completed but at least one expectation did not hold."""

    def __init__(self, report: dict) -> None:
        super().__init__(report["run_id"])
        self.report = report


class ChaosHooks:
    """Hooks a conftest can implement, for example to run scenarios somewhere else."""

    @pytest.hookspec(firstresult=True)
    def pytest_chaos_run_scenario(self, scenario: Scenario, config: pytest.Config, engine: str) -> dict | None:
        """Run ``scenario`` (strategy kind resolved) on ``engine`` and return its report document."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(ChaosHooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos-harness", "chaos-harness scenarios (files in a 'scenarios' directory)")
    group.addoption("--chaos-strategy", action="append", choices=STRATEGIES, default=None,
                    help="Strategy for scenarios that leave it open; repeat for several (default: in-service).")
    group.addoption("--chaos-engine", action="append", choices=ENGINES, default=None,
                    help="Engine to run on (default swarm); repeat for several, each on its own cluster named "
                         "CLUSTER-ENGINE.")
    group.addoption("--chaos-repeat", type=_at_least_one, default=1, help="Runs per scenario and strategy (default 1).")
    group.addoption("--chaos-cluster", type=_cluster_name, default="chaos",
                    help="Cluster name (default chaos): a lowercase letter, then up to 30 lowercase letters, "
                         "digits or dashes.")
    group.addoption("--chaos-fresh-cluster", action="store_true",
                    help="Rebuild the cluster before the first scenario and remove it at the end "
                         "(default: reuse a healthy cluster and leave it up).")
    group.addoption("--chaos-reports", default="reports", help="Directory for run directories (default reports).")
    group.addoption("--chaos-sweep", action="store_true",
                    help="Sweep each scenario's first fault across the upgrade: one item per strategy, point and "
                         "repeat.")
    group.addoption("--chaos-points", type=_at_least_one, default=None,
                    help="With --chaos-sweep: points per strategy, spread evenly (default: every point).")
    group.addoption("--chaos-app", default=None, help="App profile to run every scenario against: a file, or demo "
                                                      "(the default: the demo app the harness ships).")


def _cluster_name(text: str) -> str:
    """``--chaos-cluster``: it becomes a directory, a label and container names, so only a plain name will do."""
    from harness.cluster.config import check_name

    try:
        return check_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _at_least_one(text: str) -> int:
    """``--chaos-repeat``: a whole number of runs, at least one."""
    try:
        runs = int(text)
    except ValueError:
        runs = 0
    if runs < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; give a whole number of runs, 1 or more")
    return runs


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == SCENARIO_DIR:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file: validated at collection, one item per strategy and repeat."""

    def collect(self):
        from harness.matrix import strategy_cells

        options = self.config.option
        if options.chaos_sweep:
            yield from self._sweep()
            return
        runs = strategy_cells([load_scenario(self.path)], options.chaos_strategy or [None], options.chaos_repeat)
        per_repeat = len(runs) // options.chaos_repeat  # repeats are outermost
        for index, scenario in enumerate(runs):
            for engine in _engines(self.config):
                item = f"{scenario.strategy.kind}{_engine_id(self.config, engine)}-{index // per_repeat + 1}"
                yield ScenarioItem.from_parent(self, name=f"{scenario.name}[{item}]", scenario=scenario, engine=engine)


    def _sweep(self):
        from harness.sweep.plan import plan

        options, scenario = self.config.option, load_scenario(self.path)
        if not scenario.faults:
            yield NothingToSweep.from_parent(self, name=f"{scenario.name}[no fault to sweep]")
            return
        for run in plan(scenario, options.chaos_strategy or [None], options.chaos_points, [], options.chaos_repeat,
                        cap_points=True):
            for engine in _engines(self.config):
                yield ScenarioItem.from_parent(
                    self, name=f"{run.scenario.name}[{run.strategy}{_engine_id(self.config, engine)}-{run.point}-"
                               f"{run.repeat}]", scenario=run.scenario, engine=engine)


def _engines(config: pytest.Config) -> list[str]:
    """The engines of ``--chaos-engine`` (swarm when none is given), each once."""
    return list(dict.fromkeys(config.option.chaos_engine or ["swarm"]))


def _engine_id(config: pytest.Config, engine: str) -> str:
    """``-kubernetes`` in an item's id when the session runs on more than one engine, else nothing."""
    return f"-{engine}" if len(_engines(config)) > 1 else ""


class NothingToSweep(pytest.Item):
    """A scenario without a fault under --chaos-sweep: skipped, saying why."""

    def runtest(self) -> None:
        pytest.skip("no fault to sweep: a sweep moves the scenario's first fault across the upgrade")


class ScenarioItem(pytest.Item):
    """One run of one scenario under one strategy."""

    def __init__(self, *, scenario: Scenario, engine: str = "swarm", **kwargs) -> None:
        super().__init__(**kwargs)
        self.scenario, self.engine = scenario, engine

    def runtest(self) -> None:
        report = self.config.hook.pytest_chaos_run_scenario(scenario=self.scenario, config=self.config,
                                                            engine=self.engine)
        self.user_properties += [("run_id", report["run_id"]), ("downtime", report["downtime"]),
                                 ("upgrade_outcome", report["upgrade"]["outcome"])]
        if not report["passed"]:
            raise ExpectationsFailed(report)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ExpectationsFailed):
            return expectation_table(excinfo.value.report)
        if isinstance(excinfo.value, HarnessError):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        at = self.scenario.faults[0].at.label if self.scenario.faults else ""
        return self.path, None, (f"scenario {self.scenario.name} under {self.scenario.strategy.kind} on {self.engine}"
                                 + (f", first fault at {at}" if self.config.option.chaos_sweep else ""))


def expectation_table(report: dict) -> str:
    """The failure text: every expectation with measured and expected values."""
    rows = [("expectation", "expected", "measured", "result")]
    rows += [(v["name"], v["expected"], v["measured"], "pass" if v["passed"] else "FAIL") for v in report["verdicts"]]
    if report["status"] != "completed":
        rows.append(("run", "completed", report["status"], "FAIL"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = [f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows]
    return f"run {report['run_id']} did not meet its expectations:\n" + "\n".join(lines)


@pytest.hookimpl(trylast=True)
def pytest_chaos_run_scenario(scenario: Scenario, config: pytest.Config, engine: str) -> dict:
    """Run on the engine's cluster (named by --chaos-cluster), reused while healthy (see ``harness.matrix.ready``)."""
    from harness.matrix import ready
    from harness.runner import Runner

    cluster = _clusters(config)[engine]
    app = _app(config, cluster, scenario)
    ready(cluster)
    return Runner(scenario, cluster, Path(config.option.chaos_reports), app).run().report


def _app(config: pytest.Config, cluster, scenario: Scenario):
    """The app profile of --chaos-app, its images prepared once per session (and for each broken release asked)."""
    from harness.app import DEFAULT_PROFILE, App, load_profile
    from harness.shipped import app_argument

    releases = scenario.stack.releases
    apps = config.stash.setdefault(_apps_key, {})
    if releases not in apps:
        chosen = config.option.chaos_app
        profile = load_profile(app_argument(chosen) if chosen else DEFAULT_PROFILE)
        apps[releases] = App.prepare(profile, cluster.builder, releases)
    return apps[releases]


def _clusters(config: pytest.Config) -> dict:
    """Each engine's cluster (``cluster.config.per_engine``), taken down first with --chaos-fresh-cluster."""
    from harness.cluster import Cluster, ClusterConfig
    from harness.cluster.config import per_engine

    if _clusters_key not in config.stash:
        wanted = per_engine(ClusterConfig(name=config.option.chaos_cluster), _engines(config))
        clusters = {engine: Cluster(each) for engine, each in wanted.items()}
        if config.option.chaos_fresh_cluster:
            for cluster in clusters.values():
                cluster.down()
        config.stash[_clusters_key] = clusters
    return config.stash[_clusters_key]


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.option.chaos_fresh_cluster and _clusters_key in config.stash:
        for cluster in config.stash[_clusters_key].values():
            teardown = cluster.down()
            for problem in [*teardown.not_undone, *teardown.differences]:
                print(f"chaos-harness: the fresh cluster's down left: {problem}")  # the session has ended: say it
