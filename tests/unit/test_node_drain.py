"""node-drain: the engine's own drain (Swarm's availability, Kubernetes' cordon and evictions, PodDisruptionBudgets
honoured), its refusals retried while it holds and journalled, and its heal (also rebuilt from the ledger)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from kubernetes.client.rest import ApiException

from harness import audit
from harness.analysis.outcome import fault_timeline
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.engine.swarm import SwarmEngine
from harness.errors import EngineError
from harness.faults import drain, registry
from harness.faults.base import FaultContext
from harness.faults.schedule import heal_entry
from harness.faults.symptoms import tasks_moved_off
from harness.journal import Event, Journal, read_journal
from harness.ledger import HealLedger, LedgerEntry
from harness.testing import FakeCluster, make_service, make_task
from harness.waiting import wait_until

BUDGET = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(drain, "RETRY_INTERVAL", 0.01)


def test_a_drain_nothing_refuses_holds_without_retrying_and_heals_even_when_rebuilt_from_the_ledger():
    cluster = FakeCluster()
    ctx = FaultContext(cluster, upgraded="chaos_web")
    fault = registry.create("node-drain", {}, "node2")
    assert not fault.verify(ctx)  # a check that can fail: the node is not drained before
    fault.inject(ctx)
    assert fault.verify(ctx) and fault.said() == ""
    assert cluster.engine.calls == [("drain_node", "node2")]
    registry.rebuild("node-drain", {}, "node2").heal(ctx)  # after a crash: nothing but the node's name
    assert not fault.verify(ctx) and cluster.engine.calls[-1] == ("undrain_node", "node2")


def test_refused_evictions_are_retried_until_nothing_refuses_and_reported_in_the_engines_words():
    cluster = FakeCluster()
    cluster.engine.drain_refusals = [f"chaos/web-a: {BUDGET}", f"chaos/web-a: {BUDGET}\nchaos/db-b: {BUDGET}"]
    ctx = FaultContext(cluster, upgraded="chaos_web")
    fault = registry.create("node-drain", {}, "node2")
    fault.inject(ctx)
    wait_until(lambda: fault.cleared_after is not None, timeout=5, what="the drain's retries to clear", interval=0.01)
    assert cluster.engine.calls == [("drain_node", "node2")] * 3
    said = fault.said()
    assert said.startswith("3 refusals, nothing refused from ")
    assert said.endswith(f": chaos/web-a: {BUDGET}; chaos/db-b: {BUDGET}")
    fault.heal(ctx)
    assert not fault.verify(ctx)


def test_heal_stops_the_retries_of_a_drain_still_refused_and_says_so():
    cluster = FakeCluster()
    cluster.engine.drain_refusals = [f"chaos/web-a: {BUDGET}"] * 10_000
    ctx = FaultContext(cluster, upgraded="chaos_web")
    fault = registry.create("node-drain", {}, "node2")
    fault.inject(ctx)
    wait_until(lambda: len(fault.refused) >= 3, timeout=5, what="three refusals", interval=0.01)
    fault.heal(ctx)
    passes = len(cluster.engine.calls)
    time.sleep(0.05)
    assert len(cluster.engine.calls) == passes and cluster.engine.calls[-1] == ("undrain_node", "node2")
    assert fault.cleared_after is None and "still refused" in fault.said()


def test_an_engine_error_during_the_retries_is_kept_and_never_breaks_the_run():
    cluster = FakeCluster()
    answers = iter([f"chaos/web-a: {BUDGET}", EngineError("cannot list the pods on node2: 500"), ""])

    def drain_node(node: str) -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer
    cluster.engine.drain_node = drain_node
    fault = registry.create("node-drain", {}, "node2")
    fault.inject(FaultContext(cluster))
    wait_until(lambda: fault.cleared_after is not None, timeout=5, what="the drain's retries to clear", interval=0.01)
    assert [line for _, line in fault.refused] == [f"chaos/web-a: {BUDGET}",
                                                  "the drain failed: cannot list the pods on node2: 500"]


def test_the_load_balancers_node_is_never_drained():
    plugin, ctx = registry.available()["node-drain"], FaultContext(FakeCluster())
    assert "load balancer" in plugin.check_node(plugin.Params(), "node1", ctx)
    assert plugin.check_node(plugin.Params(), "node2", ctx) is None


def test_what_the_engine_refused_goes_into_the_journals_heal_event_and_the_reports_fault(tmp_path):
    cluster = FakeCluster()
    cluster.engine.drain_refusals = [f"chaos/web-a: {BUDGET}"]
    ctx, journal, ledger = FaultContext(cluster), Journal(tmp_path / "journal.jsonl"), HealLedger(tmp_path)
    entry = LedgerEntry(id="0-node-drain", kind="node-drain", target="node2")
    fault = registry.create("node-drain", {}, "node2")
    ledger.record(entry)
    fault.inject(ctx)
    wait_until(lambda: fault.cleared_after is not None, timeout=5, what="the drain's retries to clear", interval=0.01)
    assert heal_entry(entry, fault, ctx, ledger, journal) is None
    events = read_journal(tmp_path / "journal.jsonl")
    (healed,) = [e for e in events if e.type == "fault.heal"]
    assert BUDGET in healed.get("said") and ledger.pending() == []
    inject = Event(healed.t - 1, "fault.inject", {"id": entry.id, "kind": "node-drain", "target": "node2"})
    (reported,) = fault_timeline([inject, *events])
    assert BUDGET in reported["engine_said"]


def test_the_symptom_is_the_node_drained_with_no_upgraded_task_left_on_it():
    cluster = FakeCluster()
    ctx = FaultContext(cluster, upgraded="chaos_web")
    cluster.engine.snapshot = make_service("chaos_web", [make_task("node1"), make_task("node2", slot=2)])
    assert not tasks_moved_off(ctx, "node2", 0.0)  # active, and a task there
    cluster.engine.drained.add("node2")
    assert not tasks_moved_off(ctx, "node2", 0.0)  # drained, the task not moved yet
    cluster.engine.snapshot = make_service("chaos_web", [make_task("node1"), make_task("node3", slot=2)])
    assert tasks_moved_off(ctx, "node2", 0.0)
    cluster.engine.drained.clear()
    assert not tasks_moved_off(ctx, "node2", 0.0)  # moved, but the node takes tasks: no drain


def test_audit_names_a_node_left_drained():
    cluster = FakeCluster()
    handle = SimpleNamespace(engine=cluster.engine, config=SimpleNamespace(name="chaos"))
    assert audit._drained(handle) == []
    cluster.engine.drained.add("node3")
    assert [str(leftover) for leftover in audit._drained(handle)] == [
        "node3: drained: the engine places no task there"]


# -- the engines' drains ------------------------------------------------------------------------------------


def test_swarm_sets_the_nodes_availability_and_never_refuses():
    node = SimpleNamespace(attrs={"Description": {"Hostname": "node2"}, "Spec": {"Role": "worker",
                                                                                  "Availability": "active"}})
    updates: list[dict] = []
    node.update = lambda spec: (updates.append(spec), node.attrs.__setitem__("Spec", spec))
    client = SimpleNamespace(nodes=SimpleNamespace(list=lambda: [node]))
    engine = SwarmEngine(["node1", "node2"], lambda name: client, "node1", lambda *_: "")
    assert engine.drain_node("node2") == ""
    engine.drain_node("node2")  # drained already: no second update
    engine.undrain_node("node2")
    assert updates == [{"Role": "worker", "Availability": "drain"}, {"Role": "worker", "Availability": "active"}]


def pod(name: str, namespace: str = "chaos", owner: str | None = "ReplicaSet", stopping: bool = False):
    owners = [SimpleNamespace(kind=owner, controller=True)] if owner else None
    return SimpleNamespace(metadata=SimpleNamespace(name=name, namespace=namespace, owner_references=owners,
                                                    deletion_timestamp="now" if stopping else None))


class Core:
    """The slice of CoreV1Api a drain uses: the harness's namespaces, the pods on node2, evictions a budget may
    refuse (``guarded``: pod names, refused with 429)."""

    def __init__(self, pods: list, guarded: set[str] = frozenset(), failing: int | None = None) -> None:
        self.pods, self.guarded, self.failing = pods, guarded, failing
        self.patched: list[tuple[str, dict]] = []
        self.selectors: list[str] = []
        self.evicted: list[tuple[str, str]] = []

    def patch_node(self, name, body):
        self.patched.append((name, body))

    def list_namespace(self, label_selector, **_):
        self.selectors.append(label_selector)
        names = ("chaos", "chaos-faults")
        return SimpleNamespace(items=[SimpleNamespace(metadata=SimpleNamespace(name=name)) for name in names])

    def list_namespaced_pod(self, namespace, field_selector, **_):
        assert field_selector == "spec.nodeName=node2"
        return SimpleNamespace(items=[p for p in self.pods if p.metadata.namespace == namespace])

    def create_namespaced_pod_eviction(self, name, namespace, body, **_):
        assert (body.metadata.name, body.metadata.namespace) == (name, namespace)
        if self.failing:
            raise ApiException(status=self.failing, reason="Internal Server Error")
        if name in self.guarded:
            error = ApiException(status=429, reason="Too Many Requests")
            error.body = json.dumps({"kind": "Status", "message": BUDGET, "reason": "TooManyRequests"})
            raise error
        self.evicted.append((namespace, name))


def kubernetes(core: Core) -> KubernetesEngine:
    class Engine(KubernetesEngine):
        _core = property(lambda self: core)
    return Engine(kubeconfig=None)


def test_kubernetes_cordons_and_evicts_the_harness_pods_a_controller_replaces_and_reports_budget_refusals():
    pods = [pod("web-a"), pod("db-0", owner="StatefulSet"), pod("web-b"), pod("agent", owner="DaemonSet"),
            pod("old", stopping=True), pod("port-8081-node2", namespace="chaos-faults", owner=None)]
    core = Core(pods, guarded={"web-b"})
    engine = kubernetes(core)
    assert engine.drain_node("node2") == f"chaos/web-b: {BUDGET}"
    assert core.patched == [("node2", {"spec": {"unschedulable": True}})]
    assert core.selectors == ["app.kubernetes.io/managed-by=chaos-harness"]  # only the harness's own namespaces
    assert core.evicted == [("chaos", "web-a"), ("chaos", "db-0")]
    core.guarded = set()
    assert engine.drain_node("node2") == ""  # the budget allows it now
    engine.undrain_node("node2")
    assert core.patched[-1] == ("node2", {"spec": {"unschedulable": None}})


def test_kubernetes_raises_on_an_eviction_refused_for_another_reason_than_a_budget():
    with pytest.raises(EngineError, match="cannot evict the pod chaos/web-a: 500 Internal Server Error"):
        kubernetes(Core([pod("web-a")], failing=500)).drain_node("node2")
    assert kubernetes(Core([pod("web-a")], failing=404)).drain_node("node2") == ""  # gone already
