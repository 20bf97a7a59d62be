"""An existing Kubernetes cluster as the target: the options that name it, the harness's node labels kept off its
nodes, volumes that leave nothing on them, and what is refused there before a run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from kubernetes.client.rest import ApiException

from harness.cli import main
from harness.cluster import existing
from harness.cluster.config import ClusterConfig, ClusterState, Target
from harness.engine.base import Discovery
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.engine.kubernetes.placement import HOSTNAME, NO_NODE, KeptLabels
from harness.engine.kubernetes.translate import VOLUME_ROOT, host_directories_as_scratch
from harness.errors import ClusterError, UsageError
from harness.faults import registry
from harness.faults.base import NEEDS, FaultContext, cluster_problems
from harness.runner import _needs_registry
from harness.scenario.model import Scenario


def test_the_existing_provider_needs_a_kubeconfig_a_registry_and_kubernetes(tmp_path):
    target = Target(str(tmp_path / "kubeconfig"), "127.0.0.1:5000")
    assert ClusterConfig(provider="existing", engine="kubernetes", target=target).target == target
    with pytest.raises(UsageError, match="needs --kubeconfig FILE and --registry"):
        ClusterConfig(provider="existing", engine="kubernetes")
    with pytest.raises(UsageError, match="add --engine kubernetes"):
        ClusterConfig(provider="existing", target=target)
    with pytest.raises(UsageError, match="they need --provider existing"):
        ClusterConfig(engine="kubernetes", target=target)


@pytest.mark.parametrize("options, words", [
    (["--kubeconfig", "{kubeconfig}"], "needs both --kubeconfig FILE and --registry"),
    (["--kubeconfig", "{kubeconfig}", "--registry", "not a registry"], "give HOST:PORT"),
    (["--kubeconfig", "{kubeconfig}", "--registry", "r:5000", "--registry-as", "r/5000"], "give HOST:PORT"),
    (["--kubeconfig", "{kubeconfig}", "--registry", "r:5000"], "add --engine kubernetes"),
])
def test_options_that_name_an_existing_cluster_badly_are_refused_before_anything_starts(tmp_path, options, words):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    argv = ["--provider", "existing", *(o.format(kubeconfig=kubeconfig) for o in options), "cluster", "up"]
    result = CliRunner().invoke(main, argv, env={"CHAOS_HOME": str(tmp_path / "home")})
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert not (tmp_path / "home" / "clusters").exists()


def test_a_kept_label_places_a_pod_by_the_hostnames_of_the_nodes_that_carry_it():
    kept = KeptLabels({})
    kept.set("node1", {"chaos.lb": "true"})
    kept.set("node3", {"chaos.stateful": "true"})
    pod = {"nodeSelector": {"chaos.lb": "true", "disk": "ssd"}}
    kept.place(pod, {"node1": "host-1", "node3": "host-3"})
    assert pod["nodeSelector"] == {"disk": "ssd"}  # the user's own selector stays
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": ["host-1"]}]}]


def test_kept_labels_in_affinity_terms_become_hostname_terms_and_a_label_no_node_carries_places_nowhere():
    kept = KeptLabels({"node2": {"chaos.stateful": "true"}})
    expressions = [{"key": "chaos.stateful", "operator": "NotIn", "values": ["true"]},
                   {"key": "chaos.stateful", "operator": "Exists"},
                   {"key": "chaos.stateful", "operator": "In", "values": ["false"]},
                   {"key": "zone", "operator": "In", "values": ["a"]}]
    pod = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": expressions}]}}}}
    kept.place(pod, {"node2": "node2"})
    found = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert found["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": HOSTNAME, "operator": "NotIn", "values": ["node2"]},
        {"key": HOSTNAME, "operator": "In", "values": ["node2"]},
        {"key": HOSTNAME, "operator": "In", "values": [NO_NODE]},
        {"key": "zone", "operator": "In", "values": ["a"]}]
    assert "nodeSelector" not in pod


def test_removed_kept_labels_no_longer_place_anything():
    kept = KeptLabels({"node1": {"chaos.lb": "true"}})
    kept.remove("node1", ["chaos.lb"])
    pod = {"nodeSelector": {"chaos.lb": "true"}}
    kept.place(pod, {})
    assert pod == {"nodeSelector": {"chaos.lb": "true"}} and kept.of("node1") == {}


def test_the_harness_host_directories_become_empty_dirs_and_the_users_own_host_paths_stay():
    deployment = {"kind": "Deployment", "spec": {"template": {"spec": {"volumes": [
        {"name": "data", "hostPath": {"path": f"{VOLUME_ROOT}/chaos_data", "type": "DirectoryOrCreate"}},
        {"name": "logs", "hostPath": {"path": "/var/log"}}]}}}}
    volumes = host_directories_as_scratch(deployment)["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "data", "emptyDir": {}}, {"name": "logs", "hostPath": {"path": "/var/log"}}]


@pytest.mark.parametrize("offered, kind, missing", [
    ((), "node-halt", ["a shell on the nodes"]), ((), "daemon-freeze", ["a shell on the nodes"]),
    ((), "registry-firewall", ["a shell on the nodes", "the harness's own registry"]),
    (("shell",), "registry-firewall", ["the harness's own registry"]),
    (("shell",), "registry-toxic", ["the harness's own registry"]), (("shell",), "node-halt", []),
    ((), "node-drain", []), ((), "port-conflict", []), (("shell", "registry"), "registry-auth", [])])
def test_a_fault_is_refused_on_a_cluster_that_lacks_what_it_acts_through(offered, kind, missing):
    """An existing cluster offers nothing beside its API, or a shell with an inventory; never the harness's
    registry."""
    cluster = SimpleNamespace(state=SimpleNamespace(engine="kubernetes"), offers=lambda: frozenset(offered))
    plugin = registry.available()[kind]
    params = plugin.Params.model_validate({"port": 8081} if kind == "port-conflict" else {})
    found = cluster_problems(plugin, params, FaultContext(cluster, "chaos_web"))
    if not missing:
        assert found == []
        return
    [problem] = found
    assert problem.msg.startswith("not on this cluster: it needs ")
    assert [words for words in NEEDS.values() if words in problem.msg] == [
        words for words in NEEDS.values() if any(words.startswith(m) for m in missing)]


def test_the_authenticated_registry_is_refused_on_an_existing_cluster():
    scenario = Scenario.model_validate({"name": "s", "stack": {"registry": "authenticated"}})
    [problem] = _needs_registry(scenario)
    assert problem["loc"] == ("stack", "registry") and "not on this cluster" in problem["msg"]
    assert _needs_registry(Scenario.model_validate({"name": "s"})) == []


@pytest.mark.parametrize("service, seen", [("chaos_web", "team_web"), ("chaos-green_web", "team-green_web"),
                                           ("other_web", "other_web")])
def test_a_node_script_finds_a_service_by_the_namespace_its_stack_is_renamed_to(service, seen):
    engine = KubernetesEngine(Path("unused"), namespaces={"chaos": "team", "chaos-green": "team-green"})
    for script in (engine.runtime.census, engine.runtime.kill):
        preamble = script[:script.index("esac\n") + len("esac\n")]
        done = subprocess.run(["sh", "-c", preamble + 'echo "$1"', "census", service], capture_output=True, text=True)
        assert done.stdout.strip() == seen
    assert 'case "$1" in' not in KubernetesEngine.runtime.census  # the harness's own clusters: no renaming


def test_the_load_balancer_finds_the_entry_in_the_renamed_namespace():
    discovery = Discovery("10.0.0.10:53", "{service}.{stack}.svc.cluster.local", (("chaos", "team"),))
    assert discovery.of("chaos", "web") == "web.team.svc.cluster.local"
    assert discovery.of("chaos-green", "web") == "web.chaos-green.svc.cluster.local"



def api_error(status: int, message: str) -> ApiException:
    error = ApiException(status=status, reason="Unprocessable Entity")
    error.body = json.dumps({"kind": "Status", "message": message})
    return error


class Core:
    """The API calls the choice of the load balancer's node and NodePorts makes, answered from memory."""

    def __init__(self, host_ports: dict[str, list[int]] = (), node_ports: list[int] = (), refusal: str = ""):
        self.pods = [SimpleNamespace(spec=SimpleNamespace(node_name=node, containers=[SimpleNamespace(
            ports=[SimpleNamespace(host_port=port) for port in ports])])) for node, ports in dict(host_ports).items()]
        self.services = [SimpleNamespace(spec=SimpleNamespace(ports=[SimpleNamespace(node_port=p) for p in node_ports]))]
        self.refusal, self.dry_runs = refusal, []

    def list_pod_for_all_namespaces(self, **_):
        return SimpleNamespace(items=self.pods)

    def list_service_for_all_namespaces(self, **_):
        return SimpleNamespace(items=self.services)

    def create_namespaced_service(self, namespace, body, dry_run=None, **_):
        self.dry_runs.append((namespace, dry_run, [p["nodePort"] for p in body["spec"]["ports"]]))
        if self.refusal:
            raise api_error(422, self.refusal)


USABLE = {"alpha": "10.0.0.1", "beta": "10.0.0.2", "gamma": "10.0.0.3"}


@pytest.mark.parametrize("lb_node, expose, held, chosen", [
    ("", "hostport", {}, "alpha"),
    ("", "hostport", {"alpha": [8080]}, "beta"),
    ("gamma", "hostport", {}, "gamma"),
    ("", "nodeport", {"alpha": [8080], "beta": [9999], "gamma": [8080]}, "alpha"),  # host ports do not matter
    ("beta", "nodeport", {"beta": [9999]}, "beta"),
])
def test_the_load_balancer_runs_where_the_user_says_or_on_the_first_node_it_fits_on(lb_node, expose, held, chosen):
    target = Target("/k", "r:5000", lb_node=lb_node, lb_expose=expose)
    assert existing._balancer_node(Core(held), USABLE, target, "the cluster") == chosen


@pytest.mark.parametrize("lb_node, held, words", [
    ("delta", {}, "--lb-node delta: the cluster has no such node that is Ready and takes pods without a toleration; "
                  "it has alpha, beta, gamma"),
    ("beta", {"beta": [9999]}, "the node has a pod on a host port the harness's load balancer needs (8080, 9999): "
                               "beta [9999]; choose another with --lb-node, or expose it by NodePorts"),
    ("", {"alpha": [8080], "beta": [8080], "gamma": [9999]}, "every schedulable node has a pod on a host port"),
])
def test_a_load_balancer_node_it_cannot_run_on_is_refused_naming_the_ways_out(lb_node, held, words):
    with pytest.raises(ClusterError) as refused:
        existing._balancer_node(Core(held), USABLE, Target("/k", "r:5000", lb_node=lb_node), "the cluster")
    assert words in str(refused.value)


def test_node_ports_are_free_ones_from_the_top_of_the_range_proven_by_a_dry_run_that_makes_nothing():
    core = Core(node_ports=[32767, 32765])
    assert existing._free_node_ports(core, "the cluster") == {"http": 32766, "admin": 32764}
    assert core.dry_runs == [("default", "All", [32766, 32764])]


def test_node_ports_the_api_server_refuses_are_named_with_its_reason():
    core = Core(refusal="spec.ports[0].nodePort: Invalid value: 32767: provided port is not in the valid range. "
                        "The range of valid ports is 20000-22767")
    with pytest.raises(ClusterError, match=r"the cluster refuses the NodePorts 32767, 32766 for the load balancer: "
                                           r"422 Unprocessable Entity: .*valid ports is 20000-22767"):
        existing._free_node_ports(core, "the cluster")


def test_the_load_balancer_is_reached_at_its_node_ports_and_a_damaged_record_of_them_is_refused(tmp_path):
    state = ClusterState(name="staging", provider="existing", nodes=["alpha", "beta"], node_ips=USABLE, lb_port=0,
                         lb_admin_port=0, registry_port=0, toxiproxy_port=0, node_image="", engine="kubernetes",
                         target={"kubeconfig": "/k", "registry": "r:5000", "lb_expose": "nodeport"},
                         lb_node_ports={"http": 32767, "admin": 32766})
    assert (state.lb_url, state.lb_admin) == ("http://10.0.0.1:32767", ("10.0.0.1", 32766))
    assert state.endpoints["lb"] == "10.0.0.1:32767"
    state.save(tmp_path)
    assert ClusterState.load(tmp_path) == state
    for damaged in ({"http": "32767"}, {"web": 32767}, []):
        state.lb_node_ports = damaged
        state.save(tmp_path)
        with pytest.raises(ClusterError, match="is damaged .*lb_node_ports must map http and admin to ports"):
            ClusterState.load(tmp_path)


def test_the_load_balancers_options_without_an_existing_cluster_are_refused(tmp_path):
    for argv in (["--lb-node", "alpha"], ["--lb-expose", "nodeport"]):
        result = CliRunner().invoke(main, [*argv, "cluster", "up"], env={"CHAOS_HOME": str(tmp_path)})
        assert result.exit_code == 2 and "give --provider existing --kubeconfig FILE" in result.output, result.output
    with pytest.raises(ValueError, match="target.lb_expose must be one of hostport, nodeport, got 'ingress'"):
        Target("/k", "r:5000", lb_expose="ingress")
