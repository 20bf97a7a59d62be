"""An existing Kubernetes cluster as the target: the options that name it, the harness's node labels kept off its
nodes, volumes that leave nothing on them, and what is refused there before a run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cluster.config import ClusterConfig, Target
from harness.engine.base import Discovery
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.engine.kubernetes.placement import HOSTNAME, NO_NODE, KeptLabels
from harness.engine.kubernetes.translate import VOLUME_ROOT, host_directories_as_scratch
from harness.errors import UsageError
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

