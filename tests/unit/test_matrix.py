"""The matrix: which runs, in which order, and when the cluster is reused or rebuilt."""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.app.images import LocalImages
from harness.errors import UsageError
from harness.matrix import parse_engines, parse_strategies, plan, ready, strategy_cells
from harness.scenario import Scenario

SCENARIOS = [Scenario(name="open"), Scenario(name="fixed", strategy={"kind": "in-service"})]


def app(name):
    """An app with no images: planning never looks at them."""
    profile = load_profile(DEFAULT_PROFILE)
    profile = replace(profile, model=profile.model.model_copy(update={"name": name}))
    return App(profile, LocalImages(name, {}, {}))


def test_the_matrix_plans_repeats_outermost_and_keeps_fixed_strategies():
    cells = strategy_cells(SCENARIOS, parse_strategies("in-service, blue-green"), repeat=2)
    assert [(s.name, s.strategy.kind) for s in cells] == [
        ("open", "in-service"), ("open", "blue-green"), ("fixed", "in-service")] * 2
    with pytest.raises(UsageError, match="--strategies: got 'rolling'"):
        parse_strategies("rolling")
    with pytest.raises(UsageError, match="--repeat must be at least 1"):
        strategy_cells([Scenario(name="open")], ["in-service"], repeat=0)


def test_every_app_runs_every_cell_and_repeats_stay_outermost():
    demo, guestbook = app("demo"), app("guestbook")
    runs = plan(SCENARIOS, ["in-service", "blue-green"], repeat=2, apps=[demo, guestbook])
    one_repeat = [(a, s, k) for a in ("demo", "guestbook")
                  for s, k in (("open", "in-service"), ("open", "blue-green"), ("fixed", "in-service"))]
    assert [(r.app.profile.name, r.scenario.name, r.scenario.strategy.kind) for r in runs] == one_repeat * 2
    with pytest.raises(UsageError, match="--apps: give at least one app profile"):
        plan(SCENARIOS, ["in-service"], repeat=1, apps=[])
    with pytest.raises(UsageError, match="--repeat must be at least 1"):
        plan(SCENARIOS, ["in-service"], repeat=0, apps=[demo])


class Cluster:
    def __init__(self, problems):
        self._problems = problems
        self.calls = []

    def problems(self):
        return self._problems

    def up(self):
        self.calls.append("up")

    def rebuild(self):
        self.calls.append("rebuild")


def test_a_healthy_cluster_is_reused_and_a_degraded_one_rebuilt():
    healthy, degraded = Cluster([]), Cluster(["swarm node node2 is down/active"])
    messages = []
    ready(healthy, messages.append)
    ready(degraded, messages.append)
    assert healthy.calls == ["up"] and degraded.calls == ["rebuild"]
    assert messages == ["rebuilding the cluster: swarm node node2 is down/active"]


class FinishingRunner:
    """A run that leaves a finished run directory (with its report) as the runner would, or fails first."""

    def __init__(self, scenario, cluster, reports_dir, app, progress, live):
        self.scenario, self.cluster, self.status = scenario, cluster, "not started"
        self.run_dir = reports_dir / f"{scenario.name}-{scenario.strategy.kind}"

    def run(self):
        from harness.analysis import analyze_run_dir
        from harness.errors import ClusterError
        from harness.report import write_run_reports
        from harness.testing import make_run_dir

        if self.scenario.name == "broken":
            raise ClusterError("the stack never became healthy")
        make_run_dir(self.run_dir.parent, self.run_dir.name, self.scenario.strategy.kind, outage=0.5,
                     rollback_seconds=0.25 if self.scenario.strategy.kind == "blue-green" else None)
        write_run_reports(self.run_dir, analyze_run_dir(self.run_dir), names=("report.json",))


def test_the_matrix_says_what_each_run_found_as_it_finishes(tmp_path, monkeypatch):
    from harness import matrix

    monkeypatch.setattr(matrix, "Runner", FinishingRunner)
    lines = []
    runs = plan([Scenario(name="open"), Scenario(name="broken")], ["in-service", "blue-green"], 1, [app("demo")])
    result = matrix.run_matrix(runs, {"swarm": Cluster([])}, tmp_path, lines.append)
    finished = [line for line in lines if line.startswith("run ") and line.count(": ") > 1]
    assert finished == [
        "run 1/4: open on demo under in-service: PASSED: downtime 0.500s (longest outage 0.500s), upgrade completed, "
        "rollback not triggered, writes 1 acknowledged, 0 lost",
        "run 2/4: open on demo under blue-green: PASSED: downtime 0.500s (longest outage 0.500s), upgrade rolled_back, "
        "rollback succeeded, time to rollback 0.250s, writes 1 acknowledged, 0 lost",
        "run 3/4: broken on demo under in-service: FAILED before it reported: the stack never became healthy",
        "run 4/4: broken on demo under blue-green: FAILED before it reported: the stack never became healthy"]
    assert len(result.run_dirs) == 2
    assert [f.name for f in result.files] == ["compare.json", "compare.html", "compare.md"]


def test_every_engine_runs_every_cell_of_every_app_inside_each_repeat():
    demo = app("demo")
    runs = plan(SCENARIOS, ["in-service"], repeat=2, apps=[demo], engines=("swarm", "kubernetes"))
    assert [(r.engine, r.scenario.name) for r in runs] == [
        ("swarm", "open"), ("swarm", "fixed"), ("kubernetes", "open"), ("kubernetes", "fixed")] * 2
    with pytest.raises(UsageError, match="--engines: got 'swarm,nomad'; give a comma-separated list of swarm, "
                                         "kubernetes"):
        parse_engines("swarm,nomad")
    assert parse_engines(" kubernetes, swarm,kubernetes") == ["kubernetes", "swarm"]


def test_an_app_without_a_form_an_engine_deploys_is_refused_naming_the_engine_before_anything_starts():
    from harness.cli.common import check_forms
    from harness.errors import ProfileError

    demo = load_profile(DEFAULT_PROFILE)
    manifests_only = replace(demo, model=demo.model.model_copy(update={"compose": None}), compose={})
    check_forms([demo], ["swarm", "kubernetes"])
    check_forms([manifests_only], ["kubernetes"])
    with pytest.raises(ProfileError, match="the profile gives the app as kubernetes; swarm deploys compose: "
                                           "add compose:"):
        check_forms([manifests_only], ["kubernetes", "swarm"])


def test_the_engines_clusters_are_named_after_the_cluster_when_there_are_two(monkeypatch):
    from harness.cli import common
    from harness.cluster import ClusterConfig

    monkeypatch.setattr("harness.cluster.Cluster", lambda config, progress: SimpleNamespace(config=config))
    config = ClusterConfig(name="ci")
    one = common.clusters_of(config, ["kubernetes"])
    assert {e: (c.config.name, c.config.engine) for e, c in one.items()} == {"kubernetes": ("ci", "kubernetes")}
    both = common.clusters_of(config, ["swarm", "kubernetes"])
    assert [(e, c.config.name, c.config.engine) for e, c in both.items()] == [
        ("swarm", "ci-swarm", "swarm"), ("kubernetes", "ci-kubernetes", "kubernetes")]


def test_a_scenario_for_one_engine_runs_only_on_that_engine():
    only_kubernetes = Scenario(name="k8s", engines=["kubernetes"])
    runs = plan([only_kubernetes, Scenario(name="any")], ["in-service"], 1, [app("demo")], ("swarm", "kubernetes"))
    assert [(r.engine, r.scenario.name) for r in runs] == [("swarm", "any"), ("kubernetes", "k8s"),
                                                          ("kubernetes", "any")]


def test_without_engines_a_command_runs_on_the_engine_of_the_cluster_that_is_up(tmp_path):
    from harness.cli.common import engines_of
    from harness.cluster import ClusterConfig
    from harness.cluster.config import ClusterState

    config = ClusterConfig(name="ci", workdir=tmp_path)
    assert engines_of(config, None) == ["swarm"] and engines_of(config, "kubernetes,swarm") == ["kubernetes", "swarm"]
    config.make_state_dir()
    ClusterState(name="ci", provider="docker", nodes=["node1"], node_ips={"node1": "10.0.0.2"}, lb_port=1,
                 lb_admin_port=2, registry_port=3, toxiproxy_port=4, node_image="", engine="kubernetes"
                 ).save(config.state_dir)
    assert engines_of(config, None) == ["kubernetes"]
