"""Contradictions: settings that cannot work together are refused, each message saying what would be valid.

Static ones when the scenario is validated (no cluster needed); what a fault
needs at inject time against the cluster before the first phase; and heals
that still work for a fault recorded in the ledger but never injected.
"""

from types import SimpleNamespace

import pytest

from harness.errors import ClusterError, EnvironmentProblem, ScenarioError
from harness.faults import registry
from harness.faults.base import FaultContext
from harness.faults.schedule import FaultScheduler, heal_pending
from harness.journal import Journal
from harness.ledger import HealLedger, LedgerEntry
from harness.runner import Runner, check_fit
from harness.scenario import FaultSpec, Scenario, load_scenario
from harness.testing import FakeCluster, FakeProxy, FakeSecureRegistry, make_node


def error_of(tmp_path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\n" + text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.exit_code == 2 and str(path) in str(caught.value)
    return str(caught.value)


def valid(tmp_path, text: str) -> Scenario:
    path = tmp_path / "ok.yaml"
    path.write_text("name: x\n" + text)
    return load_scenario(path)


# -- refused when the scenario is validated -------------------------------------------------------------


@pytest.mark.parametrize("timeout, allowed", [("0", "greater than or equal to 0.05"), ("1ms", "greater than or equal to 0.05"),
                                              ("31s", "less than or equal to 30"), ("2m", "less than or equal to 30")])
def test_the_client_timeout_is_positive_and_bounded(tmp_path, timeout, allowed):
    message = error_of(tmp_path, f"load: {{timeout: {timeout}}}\n")
    assert "load.timeout" in message and allowed in message
    assert valid(tmp_path, "load: {timeout: 30s}\nexpect: {max_downtime: 1s}\n").load.timeout == 30


def test_the_verify_window_is_positive_and_the_strategy_timeout_long_enough_for_an_upgrade(tmp_path):
    assert "phases.verify_window: got 0.0: Input should be greater than 0" in error_of(
        tmp_path, "phases: {verify_window: 0}\n")
    for timeout, seconds in (("0s", "0.0"), ("1ms", "0.001"), ("9.5s", "9.5")):
        assert f"strategy.timeout: got {seconds}: Input should be greater than or equal to 10" in error_of(
            tmp_path, f"strategy: {{timeout: {timeout}}}\n")
    assert valid(tmp_path, "strategy: {timeout: 10s}\nexpect: {max_downtime: 1s}\n").strategy.timeout == 10


def test_an_empty_list_of_upgrade_outcomes_could_never_pass(tmp_path):
    message = error_of(tmp_path, "expect: {upgrade_outcome: []}\n")
    assert "expect.upgrade_outcome: got []" in message
    assert "completed, rolled_back, paused, failed, timed_out" in message and "leave upgrade_outcome out" in message


def test_a_fault_offset_past_the_end_of_the_run_shows_the_run_length(tmp_path):
    message = error_of(tmp_path, "phases: {observe: 20s}\nfaults:\n  - kind: task-kill\n"
                                 "    at: {phase: observe, offset: 20s}\n")
    assert "faults.0.at.offset: got 20.0" in message
    assert "from the start of observe it lasts at most 20s (observe 20s); give an offset below 20s" in message
    whole = error_of(tmp_path, "phases: {warmup: 10s, observe: 20s}\nstrategy: {timeout: 60s, rollback_after: 5s}\n"
                               "faults:\n  - kind: task-kill\n    at: {phase: warmup, offset: 1h}\n")
    assert ("at most 155s (warmup 10s + upgrade (strategy.timeout) 60s + rollback (strategy.rollback_after + "
            "strategy.timeout) 65s + observe 20s)") in whole


def test_an_offset_beyond_its_own_phase_but_inside_the_run_is_allowed(tmp_path):
    scenario = valid(tmp_path, "phases: {warmup: 10s}\nfaults:\n  - kind: task-kill\n"
                               "    at: {phase: warmup, offset: 15s}\n")
    assert scenario.faults[0].at.offset == 15


def test_a_tasks_replaced_trigger_beyond_the_replicas_would_never_fire(tmp_path):
    message = error_of(tmp_path, "stack: {replicas: 3}\nfaults:\n  - kind: node-halt\n    at: {tasks_replaced: 4}\n")
    assert "faults.0.at.tasks_replaced: got 4" in message and "stack.replicas (3)" in message
    assert "give 0 to 3" in message
    assert valid(tmp_path, "stack: {replicas: 3}\nfaults:\n  - kind: node-halt\n    at: {tasks_replaced: 3}\n")


def test_a_fault_held_for_no_time_is_refused(tmp_path):
    message = error_of(tmp_path, "faults:\n  - kind: node-halt\n    duration: 0s\n")
    assert "faults.0.duration: got '0s': Input should be greater than 0" in message


def test_registry_auth_against_the_open_registry_says_to_pull_from_the_authenticated_one(tmp_path):
    message = error_of(tmp_path, "faults:\n  - kind: registry-auth\n")
    assert "faults.0.kind: got 'registry-auth'" in message and "set stack.registry: authenticated" in message
    assert valid(tmp_path, "stack: {registry: authenticated}\nfaults:\n  - kind: registry-auth\n")


def test_registry_faults_must_hit_the_registry_the_stack_pulls_from(tmp_path):
    toxic = error_of(tmp_path, "stack: {registry: authenticated}\nfaults:\n  - kind: registry-toxic\n")
    assert "faults.0.kind: got 'registry-toxic'" in toxic and "set stack.registry: open" in toxic
    firewall = error_of(tmp_path, "stack: {registry: authenticated}\nfaults:\n  - kind: registry-firewall\n")
    assert "faults.0.params.registry: got 'registry'" in firewall
    assert "set params.registry: registry-secure" in firewall
    assert valid(tmp_path, "stack: {registry: authenticated}\nfaults:\n  - kind: registry-firewall\n"
                           "    params: {registry: registry-secure}\n")


def test_registry_toxic_parameters_its_mode_ignores_are_refused(tmp_path):
    message = error_of(tmp_path, "faults:\n  - kind: registry-toxic\n    params: {mode: down, latency_ms: 500}\n")
    assert "faults.0.params.latency_ms: got 500: only mode latency reads latency_ms; this fault's mode is down" \
        in message
    still = error_of(tmp_path, "faults:\n  - kind: registry-toxic\n    params: {mode: latency, latency_ms: 0}\n")
    assert "adds no delay; give latency_ms above 0" in still


@pytest.mark.parametrize("peer", ["Node2", "2node", "h_2", "-h2", "h" * 32])
def test_peers_must_be_node_names(tmp_path, peer):
    message = error_of(tmp_path, f"faults:\n  - kind: partition\n    params: {{peers: [node1, {peer}]}}\n")
    assert f"faults.0.params.peers.1: got '{peer}'" in message and "a lowercase letter, then up to 30" in message


def test_a_node_target_must_be_a_node_name_and_not_its_own_peer(tmp_path):
    message = error_of(tmp_path, "faults:\n  - kind: node-halt\n    target: {node: web_1}\n")
    assert "faults.0.target" in message and "node 'web_1' is not allowed" in message
    assert "an inventory's host name, or node1, node2" in message
    itself = error_of(tmp_path, "faults:\n  - kind: overlay-drop\n    target: {node: node2}\n"
                                "    params: {peers: [node2]}\n")
    assert "faults.0.params.peers" in itself and "node2 cannot be cut off from itself" in itself


def test_an_inventorys_host_names_are_node_names(tmp_path):
    scenario = valid(tmp_path, "faults:\n  - kind: node-halt\n    target: {node: h2}\n"
                               "  - kind: partition\n    target: {node: db-host}\n    params: {peers: [h1, node10]}\n")
    assert [f.target.node for f in scenario.faults] == ["h2", "db-host"]


def test_a_label_needs_a_key(tmp_path):
    assert "label must be key=value" in error_of(tmp_path, "faults:\n  - kind: node-halt\n    target: {label: =x}\n")


@pytest.mark.parametrize("params, got", [("{rejoin_timeout: 0}", "0.0"), ("{rejoin_timeout: 1ms}", "0.001")])
def test_fault_timeouts_are_durations_a_heal_can_wait_for(tmp_path, params, got):
    message = error_of(tmp_path, f"faults:\n  - kind: node-halt\n    params: {params}\n")
    assert f"faults.0.params.rejoin_timeout: got {got}: Input should be greater than or equal to 1" in message
    assert valid(tmp_path, "faults:\n  - kind: node-halt\n    params: {rejoin_timeout: 2m}\n"
                 ).faults[0].params == {"rejoin_timeout": "2m"}
    assert "faults.0.params.restart_timeout" in error_of(
        tmp_path, "faults:\n  - kind: daemon-crash\n    params: {restart_timeout: .inf}\n")
    assert "faults.0.params.replace_timeout" in error_of(
        tmp_path, "faults:\n  - kind: task-kill\n    params: {replace_timeout: -1}\n")


def test_a_rollback_on_request_needs_an_upgrade_that_may_complete(tmp_path):
    message = error_of(tmp_path, "strategy: {rollback_after: 5s}\nexpect: {upgrade_outcome: [rolled_back]}\n")
    assert "strategy.rollback_after: got 5.0" in message and "add completed, or remove rollback_after" in message


def test_expecting_a_successful_rollback_needs_something_that_rolls_back(tmp_path):
    message = error_of(tmp_path, "expect: {upgrade_outcome: [completed], rollback_succeeds: true}\n")
    assert "expect.rollback_succeeds: got True" in message and "set strategy.rollback_after" in message
    assert "add rolled_back to expect.upgrade_outcome" in message
    in_service = error_of(tmp_path, "strategy: {kind: in-service}\nexpect: {rollback_succeeds: true}\n")
    assert "set strategy.update_config.failure_action: rollback" in in_service
    assert valid(tmp_path, "strategy: {rollback_after: 5s}\nexpect: {upgrade_outcome: [completed], "
                           "rollback_succeeds: true}\n")
    assert valid(tmp_path, "expect: {rollback_succeeds: true}\n")  # blue-green may roll back by itself


def test_an_in_service_upgrade_that_pauses_never_rolls_back(tmp_path):
    message = error_of(tmp_path, "strategy: {kind: in-service, update_config: {failure_action: pause}}\n"
                                 "expect: {upgrade_outcome: [rolled_back]}\n")
    assert "expect.upgrade_outcome: got ['rolled_back']" in message and "failure_action: rollback" in message
    assert valid(tmp_path, "strategy: {update_config: {failure_action: pause}}\n"
                           "expect: {upgrade_outcome: [rolled_back]}\n")  # a matrix may find blue-green does


def test_the_upgrade_cannot_publish_a_port_the_load_balancer_holds(tmp_path):
    message = error_of(tmp_path, "stack: {publish_on_upgrade: 8080}\n")
    assert "stack.publish_on_upgrade: got 8080" in message and "choose another port" in message


def test_every_contradiction_is_reported_at_once(tmp_path):
    message = error_of(tmp_path, "strategy: {rollback_after: 5s}\nexpect: {upgrade_outcome: [rolled_back]}\n"
                                 "faults:\n  - kind: registry-auth\n    at: {tasks_replaced: 9}\n"
                                 "  - kind: partition\n    params: {peers: [DB]}\n")
    assert "(4 problems)" in message


# -- checked against the cluster before the first phase -----------------------------------------------


def scheduler_for(cluster: FakeCluster, tmp_path, *specs: dict, services: tuple[str, ...] = ()) -> FaultScheduler:
    ctx = FaultContext(cluster, "chaos_web", services)
    return FaultScheduler([FaultSpec(**spec) for spec in specs], ctx, Journal(tmp_path / "journal.jsonl"),
                          HealLedger(tmp_path), "chaos", service_name=lambda s: f"chaos_{s}")


def misfit_of(cluster: FakeCluster, tmp_path, *specs: dict, registry_kind: str = "open",
              services: tuple[str, ...] = ()) -> ScenarioError:
    scenario = Scenario(name="sc", stack={"registry": registry_kind})
    with pytest.raises(ScenarioError) as caught:
        check_fit(scenario, scheduler_for(cluster, tmp_path, *specs, services=services), cluster)
    assert caught.value.exit_code == 2
    return caught.value


def test_unknown_peers_are_refused_before_the_first_phase_naming_the_cluster_nodes(tmp_path):
    error = misfit_of(FakeCluster(), tmp_path, {"kind": "partition", "params": {"peers": ["node1", "node7"]}})
    assert "sc: invalid scenario for this cluster (1 problem)" in str(error)
    assert "faults.0.params.peers.1: got 'node7': the cluster has no node node7; its nodes: node1, node2, node3" \
        in str(error)


def test_the_runner_checks_the_fit_before_it_pushes_or_deploys_anything(tmp_path):
    cluster, pushed = FakeCluster(), []
    runner = Runner.__new__(Runner)
    runner.scenario, runner.cluster = Scenario(name="sc"), cluster
    runner.app = SimpleNamespace(push=pushed.append, profile=SimpleNamespace(name="demo"))
    runner._progress = lambda _: None
    parts = SimpleNamespace(stack=None, faults=scheduler_for(cluster, tmp_path, {"kind": "overlay-drop",
                                                                                  "params": {"peers": ["node4"]}}))
    with pytest.raises(ScenarioError, match="no node node4"):
        runner._prepare(parts)
    assert pushed == []


@pytest.mark.parametrize("target, key, expected", [
    ({"node": "node5"}, "faults.0.target.node: got 'node5'", "the cluster has no node node5; its nodes: node1, node2"),
    ({"label": "zone=eu"}, "faults.0.target.label: got 'zone=eu'", "the nodes' labels: chaos.stateful=true"),
    ({"role": "upgraded-worker"}, "faults.0.target.role: got 'upgraded-worker'", "--nodes 3"),
    ({"service": "cache"}, "faults.0.target.service: got 'cache'", "the run deploys: chaos_lb, chaos_web"),
])
def test_a_target_the_cluster_cannot_match_is_refused(tmp_path, target, key, expected):
    two_nodes = FakeCluster([make_node("node1", role="manager"), make_node("node2", **{"chaos.stateful": "true"})])
    error = misfit_of(two_nodes, tmp_path, {"kind": "node-halt", "target": target},
                      services=("chaos_lb", "chaos_web"))
    assert key in str(error) and expected in str(error)


def test_halting_a_host_without_power_commands_is_refused_before_the_run_only_when_it_is_the_target(tmp_path):
    hosts = FakeCluster([make_node("h1", role="manager"), make_node("h2"), make_node("h3", **{"chaos.stateful": "true"})])
    hosts.no_power = {"h1", "h3"}
    check_fit(Scenario(name="sc"), scheduler_for(hosts, tmp_path, {"kind": "node-halt", "target": {"node": "h2"}}),
              hosts)
    error = misfit_of(hosts, tmp_path, {"kind": "node-halt", "target": {"node": "h3"}})
    assert "faults.0.target.node: got 'h3': the fault cannot hit h3 (the inventory gives it no power_off and " \
           "power_on" in str(error)
    hosts.no_power = {"h1", "h2", "h3"}
    error = misfit_of(hosts, tmp_path, {"kind": "node-halt", "target": {"role": "worker"}})
    assert "faults.0.target.role: got 'worker': the fault cannot hit h2 (" in str(error) and "; h3 (" in str(error)


def test_a_cluster_without_its_stateful_node_is_a_cluster_error(tmp_path):
    cluster = FakeCluster([make_node("node1", role="manager"), make_node("node2")])
    with pytest.raises(ClusterError, match="no node is labelled chaos.stateful=true") as caught:
        check_fit(Scenario(name="sc"), scheduler_for(cluster, tmp_path, {"kind": "node-halt",
                                                                          "target": {"role": "stateful"}}), cluster)
    assert caught.value.exit_code == 3


def test_a_task_kill_of_a_service_the_run_does_not_deploy_is_refused(tmp_path):
    error = misfit_of(FakeCluster(), tmp_path, {"kind": "task-kill", "params": {"service": "chaos_cache"}},
                      services=("chaos_lb", "chaos_web"))
    assert "faults.0.params.service: got 'chaos_cache'" in str(error) and "its services: chaos_lb, chaos_web" \
        in str(error)


def test_a_registry_name_the_nodes_cannot_resolve_is_refused(tmp_path):
    cluster = FakeCluster()
    cluster.exec = lambda node, argv, stdin=None: SimpleNamespace(ok=argv[:2] != ["getent", "hosts"], output="")
    error = misfit_of(cluster, tmp_path, {"kind": "registry-firewall", "params": {"registry": "registri"}})
    assert "faults.0.params.registry: got 'registri': node1 cannot resolve this name" in str(error)


def test_registry_toxic_needs_the_proxy(tmp_path):
    cluster = FakeCluster()
    cluster.registry_proxy = FakeProxy
    check_fit(Scenario(name="sc"), scheduler_for(cluster, tmp_path, {"kind": "registry-toxic"}), cluster)

    def missing():
        raise EnvironmentProblem("Toxiproxy has no 'registry' proxy")
    cluster.registry_proxy = missing
    with pytest.raises(EnvironmentProblem):
        check_fit(Scenario(name="sc"), scheduler_for(cluster, tmp_path, {"kind": "registry-toxic"}), cluster)


def test_an_authenticated_stack_needs_the_authenticated_registry_taking_the_cluster_password(tmp_path):
    cluster, secure = FakeCluster(), FakeSecureRegistry()
    cluster.secure_registry = lambda: secure
    scenario = Scenario(name="sc", stack={"registry": "authenticated"}, faults=[{"kind": "registry-auth"}])
    check_fit(scenario, scheduler_for(cluster, tmp_path), cluster)
    secure.accepted = "rotated by a crashed run"
    with pytest.raises(ClusterError, match="refuses the cluster's credentials.*chaos-harness heal"):
        check_fit(scenario, scheduler_for(cluster, tmp_path), cluster)
    cluster.exec = lambda node, argv, stdin=None: SimpleNamespace(ok=False, output="")
    with pytest.raises(ClusterError, match=r"authenticated registry \(registry-secure\) is missing"):
        check_fit(scenario, scheduler_for(cluster, tmp_path), cluster)


def test_a_fitting_scenario_passes_the_check(tmp_path):
    cluster = FakeCluster()
    check_fit(Scenario(name="sc"), scheduler_for(
        cluster, tmp_path, {"kind": "overlay-drop", "params": {"peers": ["node1"]}},
        {"kind": "node-halt", "target": {"role": "stateful"}}, {"kind": "task-kill", "target": {"label": "chaos.lb=true"}},
        {"kind": "node-halt", "target": {"service": "web"}}, services=("chaos_lb", "chaos_web")), cluster)


# -- heals that work for a fault recorded but never injected -------------------------------------------


def test_an_unknown_peer_fails_the_inject_clearly_and_its_heal_still_succeeds(tmp_path):
    cluster, ledger = FakeCluster(), HealLedger(tmp_path)
    ledger.record(LedgerEntry(id="0-partition", kind="partition", target="node2", params={"peers": ["node7"]}))
    with pytest.raises(ClusterError, match="the cluster has no node node7; its nodes: node1, node2, node3"):
        registry.create("partition", {"peers": ["node7"]}, "node2").inject(FaultContext(cluster))
    assert heal_pending(ledger, FaultContext(cluster)) == [("0-partition", True)]
    assert ledger.pending() == []


def test_a_peer_fault_leaves_the_target_out_of_its_peers(tmp_path):
    cluster = FakeCluster()
    fault = registry.create("partition", {"peers": ["node1", "node2"]}, "node2")
    assert {rule.match[1] for rule in fault.rules(FaultContext(cluster))} == {"10.0.0.1"}
    with pytest.raises(ClusterError, match="no other node"):
        registry.create("partition", {"peers": ["node2"]}, "node2").inject(FaultContext(cluster))


def test_a_registry_firewall_whose_name_never_resolved_heals_cleanly(tmp_path):
    cluster, ledger = FakeCluster(), HealLedger(tmp_path)
    cluster.exec = lambda node, argv, stdin=None: SimpleNamespace(ok=False, output="")
    ledger.record(LedgerEntry(id="0-registry-firewall", kind="registry-firewall", target="node2",
                              params={"registry": "registri"}))
    assert heal_pending(ledger, FaultContext(cluster)) == [("0-registry-firewall", True)]


def test_a_registry_auth_never_injected_heals_without_touching_the_registry(tmp_path):
    cluster, secure = FakeCluster(), FakeSecureRegistry()
    cluster.secure_registry = lambda: secure
    fault = registry.create("registry-auth", {}, "node1")
    fault.heal(FaultContext(cluster))
    assert secure.restarts == 0
    fault.inject(FaultContext(cluster))
    assert fault.verify(FaultContext(cluster))
    fault.heal(FaultContext(cluster))
    assert not fault.verify(FaultContext(cluster)) and secure.restarts == 2


def test_a_ledger_record_that_no_longer_validates_is_still_healed(tmp_path):
    cluster, ledger = FakeCluster(), HealLedger(tmp_path)
    cluster.halt_node("node2")
    ledger.record(LedgerEntry(id="0-node-halt", kind="node-halt", target="node2", params={"rejoin_timeout": 0}))
    assert heal_pending(ledger, FaultContext(cluster)) == [("0-node-halt", True)]
    assert cluster.states["node2"] == "running"


def test_a_ledger_record_of_a_plugin_no_longer_installed_stays_pending_and_the_rest_heal(tmp_path):
    cluster, ledger = FakeCluster(), HealLedger(tmp_path)
    ledger.record(LedgerEntry(id="0-meteor", kind="meteor", target="node2"))
    ledger.record(LedgerEntry(id="1-partition", kind="partition", target="node2", params={"peers": ["node7"]}))
    journal = Journal(tmp_path / "journal.jsonl")
    assert heal_pending(ledger, FaultContext(cluster), journal) == [("1-partition", True), ("0-meteor", False)]
    assert [e.id for e in ledger.pending()] == ["0-meteor"]


def test_a_target_label_must_be_key_equals_value(tmp_path):
    for label in ("foo", "=x"):
        message = error_of(tmp_path, f"faults:\n  - {{kind: daemon-freeze, target: {{label: '{label}'}}}}\n")
        assert "label must be key=value" in message, message


def test_a_scenario_for_another_engine_is_refused_before_the_first_phase_naming_both_engines(tmp_path):
    swarm = FakeCluster()
    only_kubernetes = Scenario(name="sc", engines=["kubernetes"])
    with pytest.raises(ScenarioError) as caught:
        check_fit(only_kubernetes, scheduler_for(swarm, tmp_path), swarm)
    assert "engines: got ['kubernetes']: this cluster's engine is swarm; the scenario means something on kubernetes " \
           "only" in str(caught.value) and caught.value.exit_code == 2
    check_fit(Scenario(name="sc"), scheduler_for(swarm, tmp_path), swarm)  # every engine by default


def test_the_shipped_kubernetes_only_scenarios_are_refused_on_swarm_and_fit_kubernetes(tmp_path):
    from harness.shipped import scenario_names, shipped_scenario

    only = {name: load_scenario(shipped_scenario(name)) for name in scenario_names()}
    only = {name: scenario for name, scenario in only.items() if scenario.engines == ["kubernetes"]}
    assert set(only) == {"max-unavailable-rounding", "progress-deadline-pause", "readiness-too-early",
                         "toleration-wait"}
    swarm = FakeCluster()
    for name, scenario in only.items():
        with pytest.raises(ScenarioError) as caught:
            check_fit(scenario.under(None), scheduler_for(swarm, tmp_path), swarm)
        assert str(caught.value) == (
            f"{name}: invalid scenario for this cluster (1 problem)\n  engines: got ['kubernetes']: this cluster's "
            "engine is swarm; the scenario means something on kubernetes only: run it on such a cluster (--engine)")
        assert caught.value.exit_code == 2
        assert scenario.under(None).misfit("kubernetes") is None


def test_a_strategy_that_exists_on_one_engine_is_refused_on_another_naming_why(tmp_path, monkeypatch):
    """One rule for the engines a scenario names and the engines its strategy exists on (``Scenario.misfit``):
    check_fit refuses both before the first phase, and the matrix skips both."""
    from harness.matrix import plan
    from harness.scenario import model

    swarm, scenario = FakeCluster(), Scenario(name="sc").under("blue-green")
    assert scenario.misfit("swarm") is None
    monkeypatch.setitem(model.STRATEGY_ENGINES, "blue-green", (("kubernetes",), "a reason"))
    with pytest.raises(ScenarioError) as caught:
        check_fit(scenario, scheduler_for(swarm, tmp_path), swarm)
    assert "strategy.kind: got 'blue-green': the strategy blue-green exists on kubernetes only (a reason); this " \
           "cluster's engine is swarm" in str(caught.value) and caught.value.exit_code == 2
    assert scenario.misfit("kubernetes") is None
    runs = plan([Scenario(name="sc")], ["in-service", "blue-green"], 1, [SimpleNamespace(name="demo")],
                ("swarm", "kubernetes"))
    assert [(r.engine, r.scenario.strategy.kind) for r in runs] == [
        ("swarm", "in-service"), ("kubernetes", "in-service"), ("kubernetes", "blue-green")]
