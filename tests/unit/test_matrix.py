"""The matrix: which runs, in which order, and when the cluster is reused or rebuilt."""

from dataclasses import replace

import pytest

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.app.images import LocalImages
from harness.errors import UsageError
from harness.matrix import parse_strategies, plan, ready, strategy_cells
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
