"""Service-switch's pure parts: the nodes' connection tracking parsed and joined to the requests, the objects it
renders (slots, the live Service, the one patch of a switch), its load balancer's servers, the propagation figure,
its steps on a fake engine, and its refusal on Swarm."""

from __future__ import annotations

import itertools

import pytest

from harness.analysis import analyze_run_dir
from harness.analysis.attribution import attribute
from harness.analysis.connections import Translation, Translations, parse_events, translated
from harness.analysis.samples import Sample
from harness.analysis.versions import propagation
from harness.app import DEFAULT_PROFILE, load_profile
from harness.engine.base import UpdatePolicy
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.errors import ScenarioError
from harness.journal import JOURNAL_FILE, Journal, read_journal
from harness.jsonl import write_jsonl
from harness.matrix import plan
from harness.runfiles import CONNECTIONS_FILE
from harness.runner import check_fit
from harness.scenario import Scenario
from harness.stack import BLUE, SWITCH_GREEN, AppStack, Probe
from harness.stack.compose import LIVE_NODE_PORT, StackOptions, haproxy_config
from harness.stack.manifests import LIVE_SERVICE, SLOT, selector_patch
from harness.strategies.service_switch import ConnectionTrace, ServiceSwitchUpgrade
from harness.testing import DEMO_APP, FakeCluster, FakeEngine, FakeRouter, make_service, make_task, write_run_dir
from tests.unit.test_scenario_contradictions import scheduler_for

PROFILE = load_profile(DEFAULT_PROFILE)
NODES = (("node1", "172.30.0.11"), ("node2", "172.30.0.12"), ("node3", "172.30.0.13"))
OPTIONS = StackOptions(registry="registry:5000", form="kubernetes", switch_nodes=NODES,
                       discovery=KubernetesEngine.discovery)
LB = "10.244.0.7"  # the load balancer's pod

# What `conntrack -E -e NEW -p tcp --dport 30880 -o timestamp,id` printed on node2 (its address 172.30.0.12): a
# connection from the load balancer's node (masqueraded to that node's address), translated to a pod on node3; one
# the node merely passed on to another node (no translation); the tool's own closing note; and a connection kept
# alive from before the trace, as `conntrack -L` listed it (stamped by the trace).
NODE2 = """\
[1733440000.100000]\t    [NEW] tcp      6 120 SYN_SENT src=172.30.0.11 dst=172.30.0.12 sport=41000 dport=30880 \
[UNREPLIED] src=10.244.3.5 dst=10.244.2.1 sport=8080 dport=41000 id=3735928559
[1733440000.200000]\t    [NEW] tcp      6 120 SYN_SENT src=10.244.2.9 dst=172.30.0.13 sport=52000 dport=30880 \
[UNREPLIED] src=172.30.0.13 dst=172.30.0.12 sport=30880 dport=52000 id=3735928560
conntrack v1.4.7 (conntrack-tools): 2 flow events have been shown.
[1733440000.300000000] [EXISTING] tcp      6 86398 ESTABLISHED src=172.30.0.11 dst=172.30.0.12 sport=40000 \
dport=30880 src=10.244.1.5 dst=10.244.2.1 sport=8080 dport=40000 [ASSURED] mark=0 use=1
"""


def test_the_trace_keeps_each_connection_a_node_translated_with_who_answers():
    assert parse_events(NODE2, "node2") == [
        Translation(1733440000.1, "node2", "172.30.0.11:41000", "172.30.0.12:30880", "10.244.3.5:8080"),
        Translation(1733440000.3, "node2", "172.30.0.11:40000", "172.30.0.12:30880", "10.244.1.5:8080")]
    assert parse_events("conntrack v1.4.7 (conntrack-tools): 0 flow events have been shown.\n", "node2") == []


def sample(t, source_port, node="172.30.0.12", ok=True):
    return Sample(t=t, end=t + 0.01, ok=ok, server=f"{node}:{LIVE_NODE_PORT}", backend="blue",
                  source=f"{LB}:{source_port}")


def translation(t, pod, source_port=41000, node="172.30.0.12"):
    return Translation(t, "node2", f"172.30.0.11:{source_port}", f"{node}:{LIVE_NODE_PORT}", f"{pod}:8080")


def test_a_request_is_answered_by_the_pod_of_the_latest_connection_from_its_port_stamped_by_its_end():
    tracked = Translations([translation(10.0, "10.244.1.5"), translation(20.0, "10.244.3.7"),
                            translation(15.0, "10.244.9.9", source_port=41001),
                            translation(15.0, "10.244.8.8", node="172.30.0.13")])
    found = [s.server for s in translated([sample(8.0, 41000), sample(12.0, 41000), sample(19.9, 41000),
                                           sample(25.0, 41000), sample(16.0, 41002)], tracked)]
    # before any connection: unknown; a kept-alive connection keeps its pod; the port reused by a newer one whose
    # event conntrack stamped just after the request ended is the newer one's; another port or node is another
    # connection
    assert found == [f"172.30.0.12:{LIVE_NODE_PORT}", "10.244.1.5:8080", "10.244.3.7:8080", "10.244.3.7:8080",
                     f"172.30.0.12:{LIVE_NODE_PORT}"]


def test_the_joined_pod_is_attributed_to_its_release_like_any_task():
    events = [task_event(5.0, "10.244.1.5", "v1", "node1"), task_event(6.0, "10.244.3.7", "v2", "node3")]
    tracked = Translations([translation(10.0, "10.244.1.5"), translation(20.0, "10.244.3.7")])
    served = list(attribute(translated([sample(12.0, 41000), sample(21.0, 41000)], tracked), events))
    assert [(s.version, s.node) for s in served] == [("v1", "node1"), ("v2", "node3")]


def task_event(t, address, version, node):
    from harness.journal import Event
    return Event(t, "engine.task", {"task": address, "state": "running", "addresses": [address], "version": version,
                                    "node": node})


def test_blue_pods_carry_their_slot_and_the_live_service_selects_them_on_its_node_port():
    rendered = AppStack(PROFILE, OPTIONS, "http://127.0.0.1:1", "v1", "v2").blue("v1")
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered.manifests}
    web = objects[("Deployment", "web")]
    assert web["spec"]["selector"]["matchLabels"][SLOT] == "blue"
    assert web["spec"]["template"]["metadata"]["labels"][SLOT] == "blue"
    assert SLOT not in objects[("Deployment", "db")]["spec"]["template"]["metadata"]["labels"]  # not upgraded
    live = objects[("Service", LIVE_SERVICE)]["spec"]
    assert live["type"] == "NodePort" and live["ports"][0]["nodePort"] == LIVE_NODE_PORT
    assert live["selector"] == {**web["spec"]["template"]["metadata"]["labels"], SLOT: "blue"}
    assert objects[("Service", "chaos-harness-entry-green")]["spec"]["selector"][SLOT] == "green"


def test_green_is_deployed_with_blue_as_one_stack_beside_it_under_its_own_name_and_slot():
    stack = AppStack(PROFILE, OPTIONS, "http://127.0.0.1:1", "v1", "v2")
    rendered = stack.switch_green()
    assert list(rendered.manifests[:len(stack.blue("v1").manifests)]) == list(stack.blue("v1").manifests)
    green = {o["metadata"]["name"]: o for o in rendered.manifests if o["kind"] == "Deployment"}["web-green"]
    assert green["spec"]["selector"]["matchLabels"][SLOT] == "green"
    assert green["spec"]["template"]["metadata"]["labels"][SLOT] == "green"
    assert green["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")
    assert SWITCH_GREEN.service("web") == "chaos_web-green"


def test_a_switch_is_one_patch_of_the_selectors_slot():
    assert selector_patch("green") == {"spec": {"selector": {SLOT: "green"}}}
    assert selector_patch("blue") == {"spec": {"selector": {SLOT: "blue"}}}
    with pytest.raises(ValueError, match="unknown slot 'chaos'; known: blue, green"):
        selector_patch("chaos")


def test_the_load_balancer_sends_the_live_route_to_every_nodes_node_port_and_names_its_source():
    config = haproxy_config(PROFILE, OPTIONS, "chaos-harness-entry")
    blue = config.split("backend blue")[1].split("backend green")[0]
    assert [line.split()[1:3] for line in blue.splitlines() if line.strip().startswith("server")] == [
        [name, f"{address}:{LIVE_NODE_PORT}"] for name, address in NODES]
    assert "chaos-harness-entry-green.chaos.svc" in config.split("backend green")[1]
    assert "http-response set-header X-Chaos-Source %bi:%bp" in config
    plain = haproxy_config(PROFILE, StackOptions(registry="r:5000"), None)
    assert "server-template srv 12 tasks.chaos_web:8080" in plain.split("backend blue")[1].split("backend green")[0]


def test_the_propagation_window_runs_from_the_switch_to_the_later_of_first_new_and_last_old():
    samples = [Sample(t, t + 0.01, ok, version=version) for t, ok, version in [
        (9.0, True, "v1"), (10.5, True, "v1"), (11.0, False, None), (11.5, True, "v2"), (12.0, True, None),
        (13.0, True, "v1"), (14.0, True, "v2"), (15.0, False, None)]]
    found = propagation(samples, 10.0, "v1", "v2")
    assert (found.first_new, found.last_old, found.window) == (1.5, 3.0, 3.0)
    assert (found.old_answers, found.failed, found.unattributed) == (2, 1, 1)
    assert propagation(samples, None, "v1", "v2") is None


class SwitchEngine(FakeEngine):
    def patch_service(self, stack, name, patch):
        self.calls.append(("patch_service", stack, name, patch))


def switch_strategy(tmp_path):
    engine, router = SwitchEngine(FakeCluster()), FakeRouter()
    addresses = itertools.cycle(("10.244.1.5", "10.244.2.5", "10.244.3.5"))
    stack = AppStack(PROFILE, OPTIONS, "http://127.0.0.1:1", "v1", "v2")
    trace = ConnectionTrace(lambda node, argv: None, NODES, LIVE_NODE_PORT, 60)
    return ServiceSwitchUpgrade(engine, router, stack, None, UpdatePolicy(monitor=0.0), None, trace,
                                smoke=lambda: Probe(200, "green", f"{next(addresses)}:8080")), engine, router


def green_web():
    return make_service(SWITCH_GREEN.service("web"), [
        make_task(node, "v2", "running", slot=i, addresses=(f"10.244.{i}.5",)) for i, (node, _) in enumerate(NODES, 1)])


def test_service_switch_deploys_green_into_blues_stack_and_switches_by_the_selector_not_the_map(tmp_path):
    strategy, engine, router = switch_strategy(tmp_path)
    journal = Journal(tmp_path / JOURNAL_FILE)
    strategy.start(journal)
    assert ("deploy_stack", BLUE.stack) in engine.calls and strategy.services[-1] == "chaos_web-green"
    router.healthy_servers["green"] = 3
    green = {"chaos_web-green": green_web()}
    assert strategy.advance(green, journal) is None and "green_ready" in strategy.steps
    assert strategy.advance(green, journal) is None  # switched at the next poll
    assert engine.calls[-1] == ("patch_service", "chaos", LIVE_SERVICE, selector_patch("green"))
    assert router.routed == [] and strategy.live_service() == "chaos_web-green"
    strategy.request_rollback(journal)
    assert engine.calls[-1] == ("patch_service", "chaos", LIVE_SERVICE, selector_patch("blue"))
    assert strategy.live_service() == "chaos_web"
    journal.close()
    assert [e.type for e in read_journal(journal.path)].count("switch.requested") == 1


def test_service_switch_is_refused_on_swarm_before_the_first_phase_naming_why_and_skipped_by_the_matrix(tmp_path):
    swarm, scenario = FakeCluster(), Scenario(name="sc").under("service-switch")
    with pytest.raises(ScenarioError) as caught:
        check_fit(scenario, scheduler_for(swarm, tmp_path), swarm)
    assert "strategy.kind: got 'service-switch': the strategy service-switch exists on kubernetes only (it flips " \
           "a Kubernetes Service's selector" in str(caught.value) and caught.value.exit_code == 2
    runs = plan([Scenario(name="sc")], ["in-service", "blue-green", "service-switch"], 1,
                [type("App", (), {"name": "demo"})()], ("swarm", "kubernetes"))
    assert [(r.engine, r.scenario.strategy.kind) for r in runs] == [
        ("swarm", "in-service"), ("swarm", "blue-green"),
        ("kubernetes", "in-service"), ("kubernetes", "blue-green"), ("kubernetes", "service-switch")]


def test_a_run_directorys_connections_attribute_its_requests_and_the_report_has_the_propagation_window(tmp_path):
    """A run as service-switch records it: requests to node2's NodePort, from one kept-alive source port opened
    before the switch (on blue's pod) and a port opened after it (on green's); the conntrack records in
    connections.jsonl tie each to its pod."""
    scenario = Scenario(name="sc", strategy={"kind": "blue-green"}).model_dump(mode="json")  # as analysed alike
    events = [{"t": 0, "type": "run.start", "scenario": scenario, "run_id": "r", "app": DEMO_APP,
               "cluster": {"engine": "kubernetes"}, "load": {"rate": 10}},
              {**task_event(0.5, "10.244.1.5", "v1", "node1").data, "t": 0.5, "type": "engine.task"},
              {**task_event(4.0, "10.244.3.7", "v2", "node3").data, "t": 4.0, "type": "engine.task"},
              {"t": 1, "type": "upgrade.requested", "strategy": "service-switch"},
              {"t": 5, "type": "switch.requested", "live": "green"},
              {"t": 5.1, "type": "switch.done", "live": "green", "duration": 0.1},
              {"t": 6, "type": "upgrade.settled", "outcome": "completed"},
              {"t": 10, "type": "run.end", "status": "completed"}]
    samples = [sample(t / 10, 41000 if t < 80 else 41001)._asdict() for t in range(10, 100)]
    run_dir = write_run_dir(tmp_path / "r", events, [{k: v for k, v in s.items() if v is not None} for s in samples])
    write_jsonl(run_dir / CONNECTIONS_FILE, [translation(0.9, "10.244.1.5").record(),
                                             translation(6.0, "10.244.1.5", source_port=41005).record(),
                                             translation(7.95, "10.244.3.7", source_port=41001).record()])
    report = analyze_run_dir(run_dir)
    assert report["versions"]["counts"] == {"v1": 70, "v2": 20}
    found = report["propagation"]
    assert found["first_new"] == pytest.approx(3.0) and found["last_old"] == pytest.approx(2.9)
    assert found["old_answers"] == 30 and found["failed"] == 0  # the kept-alive connection stayed on blue
    # node2's kube-proxy: a new connection to blue's pod 1 s after the switch's request, the first to green's at 2.95 s
    assert found["nodes"] == {"node2": {"last_old": pytest.approx(1.0), "first_new": pytest.approx(2.95)}}
    assert found["kept_alive"] == {"v1": 30}  # every v1 answer after the request; no v2 answer came on an old one
    from harness.report.html import run_page
    from harness.report.text import summary_rows
    page = run_page(report, read_journal(run_dir / JOURNAL_FILE))
    assert 'class="span propagation"' in page and "the switch on its way to the clients: 3.00s, 0 failed" in page
    assert ("propagation", "from the switch's request: first v2 answer after 3.000s, last v1 answer after 2.900s "
                           "(30 v1 answers after the request), 0 failed in the window of 3.000s") in summary_rows(report)
    assert ("propagation per node", "new connections after the switch's request, first to v2 / last to v1: node2 "
                                    "2.950s / 1.000s; answers on connections opened before it: v1 30") \
        in summary_rows(report)


def test_prepare_waits_out_a_load_balancer_being_replaced_before_routing_to_blue():
    """Switching between service-switch and another strategy changes the load balancer's configuration, so prepare
    meets it being replaced: its runtime API answers with no route map, or reads one back empty."""
    from harness.errors import ClusterError
    from harness.stack.prepare import _routed_to_blue

    class Replaced:
        def __init__(self, answers):
            self.answers, self.routed = list(answers), []

        def routes(self):
            return self.answers.pop(0)

        def route(self, live):
            if not self.answers.pop(0):
                raise ClusterError("HAProxy's route map reads {} after routing live traffic to blue")
            self.routed.append(live)

    router = Replaced([{}, {"live": "green"}, {}, {"live": "green"}, {"live": "blue"}])
    assert [_routed_to_blue(router) for _ in range(3)] == [False, False, True] and router.routed == ["blue"]


def test_a_connections_file_with_a_wrong_key_or_type_is_damage_naming_its_line_not_a_crash(tmp_path):
    from harness.analysis import analyze_run_dir
    from harness.errors import UsageError
    from harness.testing import make_run_dir

    run_dir = make_run_dir(tmp_path, "run", "in-service", outage=0.5)
    for record, said in (({"t": "soon", "node": "n", "source": "a", "target": "b", "server": "c"}, "t: got 'soon'"),
                         ({"t": 1.0, "node": "n", "source": None, "target": "b", "server": "c"}, "source: got None"),
                         ({"t": 1.0, "node": "n"}, "missing")):
        (run_dir / CONNECTIONS_FILE).unlink(missing_ok=True)
        write_jsonl(run_dir / CONNECTIONS_FILE, [record])
        with pytest.raises(UsageError, match=f"line 1.*{said}") as caught:
            analyze_run_dir(run_dir)
        assert caught.value.exit_code == 2
