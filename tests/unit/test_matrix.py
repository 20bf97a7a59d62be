"""The matrix: which runs, in which order, and when the cluster is reused or rebuilt."""

import pytest

from harness.errors import UsageError
from harness.matrix import parse_strategies, plan, ready
from harness.scenario import Scenario


def test_the_matrix_plans_repeats_outermost_and_keeps_fixed_strategies():
    runs = plan([Scenario(name="open"), Scenario(name="fixed", strategy={"kind": "in-service"})],
                parse_strategies("in-service, blue-green"), repeat=2)
    assert [(s.name, s.strategy.kind) for s in runs] == [
        ("open", "in-service"), ("open", "blue-green"), ("fixed", "in-service")] * 2
    with pytest.raises(UsageError, match="--strategies: got 'rolling'"):
        parse_strategies("rolling")
    with pytest.raises(UsageError, match="--repeat must be at least 1"):
        plan([Scenario(name="open")], ["in-service"], repeat=0)


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
