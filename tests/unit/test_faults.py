"""Fault discovery, target selection, the heal ledger and the scheduler, against fakes."""

import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError, WaitTimeout
from harness.faults import registry, targets
from harness.faults.base import Fault, FaultContext, cluster_problems
from harness.faults.schedule import FaultScheduler, heal_pending
from harness.journal import Journal, read_journal
from harness.ledger import HealLedger, LedgerEntry
from harness.scenario import FaultSpec, Target
from harness.testing import FakeCluster, make_node, make_task
from harness.engine.base import ServiceSnapshot

NODES = FakeCluster().node_infos


def test_node_halt_is_discovered_through_the_entry_point_group():
    plugins = registry.available()
    assert "node-halt" in plugins
    for name, plugin in plugins.items():
        assert plugin.name == name and plugin.description
        assert isinstance(registry.create(name, {}, "node2"), Fault)


@pytest.mark.parametrize("target, tasks, expected", [
    (Target(role="upgraded-worker"), [make_task("node1"), make_task("node2"), make_task("node3")], ["node2"]),
    (Target(role="most-upgraded"), [make_task("node1"), make_task("node3", slot=1), make_task("node3", slot=2)],
     ["node3"]),
    (Target(role="most-upgraded"), [], []),
    (Target(role="manager"), [], ["node1"]),
    (Target(role="worker"), [], ["node2", "node3"]),
    (Target(role="stateful"), [], ["node3"]),  # no stateful task placed: the labelled node
    (Target(label="chaos.lb=true"), [], ["node1"]),
    (Target(node="node2"), [], ["node2"]),
    (Target(node="node9"), [], []),
])
def test_target_candidates(target, tasks, expected):
    assert targets.candidates(target, NODES, tasks) == expected


def test_stateful_and_service_targets_follow_where_those_tasks_are_placed():
    floating_db = [make_task("node2", slot=1)]
    assert targets.candidates(Target(role="stateful"), NODES, [], stateful_tasks=floating_db) == ["node2"]
    cache = [make_task("node1"), make_task("node3"), make_task("node9")]  # node9 is no swarm node
    assert targets.candidates(Target(service="cache"), NODES, [], service_tasks=cache) == ["node1", "node3"]
    assert targets.candidates(Target(service="cache"), NODES, [make_task("node2")]) == []


def test_a_seed_makes_the_random_choice_repeatable():
    picks = {targets.choose(Target(role="worker", seed=7), NODES, []) for _ in range(5)}
    assert len(picks) == 1


def test_no_matching_node_is_an_error_naming_the_target():
    with pytest.raises(ClusterError, match="upgraded-worker"):
        targets.choose(Target(role="upgraded-worker"), NODES, [make_task("node1")])


def test_the_ledger_returns_pending_heals_last_in_first_out(tmp_path):
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    ledger = HealLedger(run_dir)
    for i in range(3):
        ledger.record(LedgerEntry(id=str(i), kind="node-halt", target=f"node{i}"))
    ledger.mark_healed("1")
    assert [e.id for e in ledger.pending()] == ["2", "0"]
    # a fresh ledger object (a new process after a crash) sees the same
    assert [e.id for e in HealLedger(run_dir).pending()] == ["2", "0"]


def test_heal_pending_rebuilds_faults_from_the_ledger_and_heals_them(tmp_path):
    cluster = FakeCluster()
    cluster.halt_node("node2")
    ledger = HealLedger(tmp_path)
    ledger.record(LedgerEntry(id="0-node-halt", kind="node-halt", target="node2", params={"rejoin_timeout": 1}))
    assert heal_pending(ledger, FaultContext(cluster)) == [("0-node-halt", True)]
    assert cluster.states["node2"] == "running"
    assert ledger.pending() == []


def snapshot_with(*tasks):
    return ServiceSnapshot("chaos_web", "web:v1", 3, "updating", "", "x", tuple(tasks))


def test_the_scheduler_records_the_heal_before_injecting_and_heals_at_the_end(tmp_path):
    cluster = FakeCluster()
    journal = Journal(tmp_path / "journal.jsonl")
    ledger = HealLedger(tmp_path)
    spec = FaultSpec(kind="node-halt", at={"tasks_replaced": 1}, params={"rejoin_timeout": 1})
    scheduler = FaultScheduler([spec], FaultContext(cluster), journal, ledger, "chaos")
    tasks = snapshot_with(make_task("node1"), make_task("node2"), make_task("node3"))

    scheduler.tick({"upgrade": 0.0}, tasks, tasks_replaced=0)
    assert cluster.states["node2"] == "running"
    scheduler.tick({"upgrade": 0.0}, tasks, tasks_replaced=1)
    assert cluster.states["node2"] == "stopped"
    assert [e.target for e in ledger.pending()] == ["node2"]

    scheduler.heal_all()
    assert cluster.states["node2"] == "running"
    assert ledger.pending() == []
    types = [e.type for e in read_journal(journal.path)]
    assert types == ["fault.inject", "fault.verify", "fault.heal"]


def test_tasks_replaced_zero_strikes_as_the_upgrade_starts_and_a_step_when_the_strategy_reaches_it(tmp_path):
    cluster = FakeCluster()
    specs = [FaultSpec(kind="node-halt", target={"node": "node2"}, at={"tasks_replaced": 0},
                       params={"rejoin_timeout": 1}),
             FaultSpec(kind="node-halt", target={"node": "node3"}, at={"step": "switched", "offset": 0.01},
                       params={"rejoin_timeout": 1})]
    scheduler = FaultScheduler(specs, FaultContext(cluster), Journal(tmp_path / "j.jsonl"), HealLedger(tmp_path), "c")
    tasks = snapshot_with(make_task("node2"), make_task("node3"))
    scheduler.tick({"warmup": 0.0}, tasks, 0)  # nothing replaced during warmup either: not yet
    assert cluster.states["node2"] == cluster.states["node3"] == "running"
    scheduler.tick({"warmup": 0.0, "upgrade": 1.0}, tasks, 0)
    assert cluster.states["node2"] == "stopped" and cluster.states["node3"] == "running"
    switched = time.time()
    scheduler.tick({"upgrade": 1.0, "switched": switched}, tasks, 3)  # its offset is not up yet
    assert cluster.states["node3"] == "running"
    time.sleep(0.02)
    scheduler.tick({"upgrade": 1.0, "switched": switched}, tasks, 3)
    assert cluster.states["node3"] == "stopped"


def test_a_due_fault_on_the_upgraded_worker_waits_until_an_upgraded_task_runs_on_one(tmp_path, monkeypatch):
    """The update's first new task on the manager or the stateful node (as Kubernetes may place it): the fault
    waits for one on a plain worker, then strikes; no such task within the grace is the run's error."""
    from harness.faults import schedule

    cluster = FakeCluster()
    journal = Journal(tmp_path / "j.jsonl")
    spec = FaultSpec(kind="node-halt", at={"tasks_replaced": 1}, params={"rejoin_timeout": 1})
    scheduler = FaultScheduler([spec], FaultContext(cluster), journal, HealLedger(tmp_path), "c")
    scheduler.tick({"upgrade": 0.0}, snapshot_with(make_task("node1"), make_task("node3")), 1)
    assert set(cluster.states.values()) == {"running"}
    scheduler.tick({"upgrade": 0.0}, snapshot_with(make_task("node1"), make_task("node3"), make_task("node2")), 1)
    assert cluster.states["node2"] == "stopped"
    assert [e.type for e in read_journal(journal.path)] == ["fault.deferred", "fault.inject", "fault.verify"]
    scheduler.heal_all()

    monkeypatch.setattr(schedule, "PLACEMENT_GRACE", 0.0)
    late = FaultScheduler([spec], FaultContext(cluster), journal, HealLedger(tmp_path / "late"), "c")
    with pytest.raises(ClusterError, match="no node matches fault target"):
        late.tick({"upgrade": 0.0}, snapshot_with(make_task("node1")), 1)


def test_a_fault_with_a_duration_is_healed_when_its_time_is_up(tmp_path):
    cluster = FakeCluster()
    spec = FaultSpec(kind="node-halt", at={"phase": "upgrade"}, duration=0.01, params={"rejoin_timeout": 1})
    scheduler = FaultScheduler([spec], FaultContext(cluster), Journal(tmp_path / "j.jsonl"), HealLedger(tmp_path), "c")
    tasks = snapshot_with(make_task("node2"))
    scheduler.tick({"upgrade": 0.0}, tasks, 0)
    assert cluster.states["node2"] == "stopped"
    time.sleep(0.02)
    scheduler.tick({"upgrade": 0.0}, tasks, 0)
    assert cluster.states["node2"] == "running"


def test_a_heal_that_fails_stays_pending_for_the_heal_command(tmp_path):
    cluster = FakeCluster([make_node("node1", role="manager"), make_node("node2")])
    cluster.start_node = lambda node: (_ for _ in ()).throw(RuntimeError("vagrant exploded"))
    cluster.halt_node("node2")
    ledger = HealLedger(tmp_path)
    ledger.record(LedgerEntry(id="f", kind="node-halt", target="node2"))
    assert heal_pending(ledger, FaultContext(cluster)) == [("f", False)]
    assert [e.id for e in ledger.pending()] == ["f"]


def test_a_stateful_or_service_target_asks_the_engine_where_those_services_run(tmp_path):
    cluster = FakeCluster()
    cluster.engine.services = {"chaos_db": snapshot_with(make_task("node2")),
                               "chaos_cache": snapshot_with(make_task("node1"))}
    specs = [FaultSpec(kind="node-halt", target={"role": "stateful"}, at={"phase": "upgrade"},
                       params={"rejoin_timeout": 1}),
             FaultSpec(kind="node-halt", target={"service": "cache"}, at={"phase": "upgrade"},
                       params={"rejoin_timeout": 1})]
    scheduler = FaultScheduler(specs, FaultContext(cluster, "chaos_web"), Journal(tmp_path / "j.jsonl"),
                               HealLedger(tmp_path), "c", stateful=("chaos_db",), service_name=lambda s: f"chaos_{s}")
    scheduler.tick({"upgrade": 0.0}, snapshot_with(make_task("node3")), 0)
    assert cluster.states == {"node1": "stopped", "node2": "stopped", "node3": "running"}
    scheduler.heal_all()


class KillingCluster(FakeCluster):
    """Its nodes answer the engine's kill script: ``killed`` is what it prints, exit 1 (nothing to kill) when None."""

    def __init__(self, killed: str | None) -> None:
        super().__init__()
        self.killed = killed

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        self.commands.append((node, argv))
        if argv[:3] != ["sh", "-c", self.engine.runtime.kill]:
            return ExecResult(0, "")
        return ExecResult(1, f"no running task container of {argv[4]}\n") if self.killed is None \
            else ExecResult(0, f"{self.killed}\n")


def test_task_kill_kills_a_task_of_the_upgraded_service_unless_told_another(tmp_path):
    cluster = KillingCluster(killed=None)
    cluster.engine.snapshot = snapshot_with(make_task("node2"))
    default = registry.create("task-kill", {}, "node2")
    with pytest.raises(ClusterError, match="cannot kill a task of chaos_web on node2: no running task container"):
        default.inject(FaultContext(cluster, upgraded="chaos_web"))
    assert cluster.commands[-1] == ("node2", ["sh", "-c", cluster.engine.runtime.kill, "kill", "chaos_web"])
    named = registry.create("task-kill", {"service": "chaos_db"}, "node2")
    with pytest.raises(ClusterError, match="cannot kill a task of chaos_db on node2"):
        named.inject(FaultContext(cluster, upgraded="chaos_web"))


def test_task_kill_holds_until_the_killed_task_is_replaced_or_its_container_restarted():
    """Swarm replaces the task (a new id); Kubernetes restarts the container in the same pod (the same id, running
    since after the kill). Until then the fault holds, also before the engine noticed the kill."""
    killed = make_task("node2", timestamp=100.0)
    others = (make_task("node1"), make_task("node3"))
    cluster = KillingCluster(killed=killed.id)
    ctx = FaultContext(cluster, upgraded="chaos_web")
    cluster.engine.snapshot = snapshot_with(killed, *others)
    fault = registry.create("task-kill", {"replace_timeout": 1}, "node2")
    fault.inject(ctx)
    assert (fault.killed_task, fault.killed_since) == (killed.id, 100.0)
    assert fault.verify(ctx)  # the engine has not noticed yet: every task still running
    restarting = replace(killed, state="starting", timestamp=105.0)
    cluster.engine.snapshot = snapshot_with(restarting, *others)
    assert fault.verify(ctx)
    with pytest.raises(WaitTimeout, match="chaos_web back at its desired task count"):
        fault.heal(ctx)
    cluster.engine.snapshot = snapshot_with(replace(restarting, state="running"), *others)  # Kubernetes
    assert not fault.verify(ctx)
    fault.heal(ctx)
    replacement = make_task("node2", slot=2)
    cluster.engine.snapshot = snapshot_with(replace(killed, state="failed"), replacement, *others)  # Swarm
    assert not fault.verify(ctx)


def test_port_conflict_holds_the_port_through_the_engine_and_heals_even_when_rebuilt_from_the_ledger():
    cluster = FakeCluster()
    ctx = FaultContext(cluster, upgraded="chaos_web")
    fault = registry.create("port-conflict", {"port": 8081}, "node2")
    fault.inject(ctx)
    assert fault.verify(ctx) and cluster.engine.port_holds("node2") == {8081: True}
    cluster.engine.held[("node2", 8081)] = False  # the hold exists but is not in effect (a pod not admitted)
    assert not fault.verify(ctx)
    rebuilt = registry.create("port-conflict", {"port": 8081}, "node2")  # after a crash: only params and target
    rebuilt.heal(FaultContext(cluster))
    rebuilt.heal(FaultContext(cluster))
    assert not fault.verify(ctx) and cluster.engine.held == {}
    assert [call for call in cluster.engine.calls if call[0] != "hold_port"] == [("release_port", "node2", 8081)] * 2


def test_a_task_kill_healed_from_a_ledger_without_its_service_leaves_the_task_to_swarm():
    cluster = FakeCluster()
    fault = registry.create("task-kill", {}, "node2")
    ctx = FaultContext(cluster)  # healing after a crash: the upgraded service is not known
    assert fault.verify(ctx) is False
    fault.heal(ctx)
    assert cluster.commands == []


def test_node_halt_cannot_hit_a_host_without_power_commands_and_can_hit_the_others():
    cluster = FakeCluster()
    cluster.no_power = {"node2"}
    plugin = registry.available()["node-halt"]
    params = plugin.Params()
    assert plugin.check_node(params, "node3", FaultContext(cluster)) is None
    assert "no power_off and power_on" in plugin.check_node(params, "node2", FaultContext(cluster))
    assert plugin.check_cluster(params, FaultContext(cluster)) == []  # other hosts' power is no concern


def test_a_target_is_chosen_among_the_nodes_the_fault_can_hit_only():
    tasks = [make_task("node2", slot=1), make_task("node2", slot=2), make_task("node3")]
    assert targets.choose(Target(role="most-upgraded"), NODES, tasks) == "node2"
    unfit = {"node2": "no power"}
    assert targets.choose(Target(role="most-upgraded"), NODES, tasks, unfit=unfit) == "node3"
    assert targets.choose(Target(role="worker", seed=7), NODES, [], unfit=unfit) == "node3"
    with pytest.raises(ClusterError, match=r"no node matches .*node2.*the fault cannot hit node2 \(no power\)"):
        targets.choose(Target(node="node2"), NODES, [], unfit=unfit)


@pytest.mark.parametrize("target, unfit, refused", [
    (Target(node="node2"), {"node2": "no power"}, "the fault cannot hit node2 (no power)"),
    (Target(node="node3"), {"node2": "no power"}, None),
    (Target(role="worker"), {"node2": "no power"}, None),
    (Target(role="worker"), {"node2": "no power", "node3": "off"}, "node2 (no power); node3 (off)"),
    (Target(label="chaos.lb=true"), {"node1": "no power"}, "the fault cannot hit node1 (no power)"),
    (Target(role="upgraded-worker"), {"node2": "no power"}, "the fault cannot hit node2 (no power)"),
    (Target(role="most-upgraded"), {"node2": "x", "node3": "x"}, None),  # node1 may run the most tasks
    (Target(role="stateful"), {"node3": "no power"}, "the fault cannot hit node3 (no power)"),
    (Target(service="cache"), {"node1": "x", "node2": "x", "node3": "x"}, "node1 (x); node2 (x); node3 (x)"),
])
def test_a_target_whose_every_possible_node_the_fault_cannot_hit_is_a_misfit(target, unfit, refused):
    found = targets.misfit(target, NODES, unfit)
    assert found is None if refused is None else refused in found


def test_a_floating_stateful_service_may_be_on_any_worker():
    unfit = {"node3": "no power"}
    assert targets.misfit(Target(role="stateful"), NODES, unfit, stateful_floats=True) is None
    assert "node2 (x); node3 (no power)" in targets.misfit(Target(role="stateful"), NODES, {**unfit, "node2": "x"},
                                                           stateful_floats=True)


def test_the_scheduler_halts_only_a_node_it_can_start_again(tmp_path):
    cluster = FakeCluster()
    cluster.no_power = {"node2"}
    spec = FaultSpec(kind="node-halt", target={"role": "worker"}, at={"phase": "upgrade"},
                     params={"rejoin_timeout": 1})
    scheduler = FaultScheduler([spec], FaultContext(cluster), Journal(tmp_path / "j.jsonl"), HealLedger(tmp_path), "c")
    assert scheduler.misfits() == []
    scheduler.tick({"upgrade": 0.0}, snapshot_with(), 0)
    assert cluster.states == {"node1": "running", "node2": "running", "node3": "stopped"}
    scheduler.heal_all()


def test_a_standby_manager_is_a_manager_without_the_load_balancer_and_needs_managers_3():
    three_managers = [make_node("node1", role="manager", **{"chaos.lb": "true"}), make_node("node2", role="manager"),
                      make_node("node3", role="manager"), make_node("node4"), make_node("node5", **{"chaos.stateful": "true"})]
    assert targets.candidates(Target(role="standby-manager"), three_managers, []) == ["node2", "node3"]
    assert targets.misfit(Target(role="standby-manager"), three_managers) is None
    assert "a manager besides the load balancer's (--managers 3)" in targets.misfit(Target(role="standby-manager"), NODES)


def test_packet_loss_spares_the_ssh_session_the_harness_heals_a_host_through():
    cluster = FakeCluster()
    fault = registry.create("packet-loss", {"probability": 0.3}, "node2")
    assert [rule.argv("-I")[5:-6] for rule in fault.rules(FaultContext(cluster))] == [
        ["INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", "0.3000"]]
    cluster.ssh_ports["node2"] = 2222
    rules = [rule.argv("-I")[5:-6] for rule in fault.rules(FaultContext(cluster))]
    assert rules == [["INPUT", "-i", "eth0", "-p", "tcp", "!", "--dport", "2222", "-m", "statistic", "--mode",
                      "random", "--probability", "0.3000"],
                     ["INPUT", "-i", "eth0", "!", "-p", "tcp", "-m", "statistic", "--mode", "random",
                      "--probability", "0.3000"]]


def test_overlay_drop_is_refused_on_an_engine_without_an_overlay_and_named_why():
    cluster = FakeCluster()
    plugin = registry.available()["overlay-drop"]
    params = plugin.Params()
    assert plugin.check_cluster(params, FaultContext(cluster)) == []  # Swarm: VXLAN between the nodes
    cluster.engine.overlay_port = None  # a Kubernetes cluster of the harness routes pod subnets
    cluster.state = SimpleNamespace(engine="kubernetes")
    (problem,) = plugin.check_cluster(params, FaultContext(cluster))
    assert problem.loc == ("kind",) and problem.value == "overlay-drop"
    assert "kubernetes cluster has no VXLAN overlay" in problem.msg and "partition or packet-loss" in problem.msg


def test_a_fault_not_built_for_an_engine_is_refused_there_naming_why(monkeypatch):
    cluster = FakeCluster()
    plugin = registry.available()["task-kill"]
    monkeypatch.setattr(plugin, "unsupported", {"kubernetes": "its container is not reached there, for a reason"})
    cluster.state.engine = "kubernetes"
    (problem,) = cluster_problems(plugin, plugin.Params(), FaultContext(cluster))
    assert problem.loc == ("kind",) and problem.value == "task-kill"
    assert problem.msg == "not on a kubernetes cluster: its container is not reached there, for a reason"
    cluster.state.engine = "swarm"
    assert all(p.loc != ("kind",) for p in cluster_problems(plugin, plugin.Params(), FaultContext(cluster)))


@pytest.mark.parametrize("kind", ["port-conflict", "task-kill"])
def test_port_conflict_and_task_kill_run_on_kubernetes_too(kind):
    cluster = FakeCluster()
    cluster.state.engine = "kubernetes"
    plugin = registry.available()[kind]
    assert all(p.loc != ("kind",) for p in cluster_problems(plugin, plugin.Params(), FaultContext(cluster)))
