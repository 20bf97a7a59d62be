"""A real Kubernetes cluster of node containers: every node Ready, TLS only, images pulled from the cluster's
registry (only the pause image is imported), kubectl with the admin kubeconfig; seed scenarios (shortened) under
in-service with the harness's verified rollout undo; a frozen node's census; the same cluster as an existing one,
reached through its kubeconfig and its nodes' SSH only; nothing left after down."""

from __future__ import annotations

import json
import os
import socket
import ssl
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import docker
import paramiko
import pytest
import yaml
from click.testing import CliRunner
from kubernetes.client import CoreV1Api

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.audit import audit
from harness.cli import main
from harness.cluster import Cluster, ClusterConfig, existing
from harness.cluster.config import Target
from harness.dockerhost import CLUSTER_LABEL
from harness.faults import registry
from harness.faults.base import FaultContext
from harness.faults.conformance import exercise
from harness.faults.symptoms import tasks_moved_off
from harness.engine.kubernetes.binaries import COMPONENTS, binaries
from harness.runner import Runner
from harness.scenario.model import KubernetesOptions, Scenario, Stack
from harness.stack import router
from harness.stack.from_spec import stack_for
from harness.stack.prepare import census, deploy_and_wait
from harness.waiting import wait_until
from tests.integration.conftest import GUESTBOOK, lint_proofs, relocatable, up_then_down
from tests.integration.test_crash_heal import harness as harness_cli, killed_once_faults_hold
from tests.integration.test_end_to_end import events_of, shortened

pytestmark = pytest.mark.docker

KUBE_CLUSTER = dict(name="chaos-kube", nodes=3, lb_port=22080, lb_admin_port=22999, registry_port=22500,
                    toxiproxy_port=22474, engine="kubernetes")  # below the ephemeral range


@pytest.fixture(scope="module")
def kube(tmp_path_factory) -> Cluster:
    yield from up_then_down(ClusterConfig(**KUBE_CLUSTER, workdir=tmp_path_factory.mktemp("kube-home")))


def kubectl(kube: Cluster, *args: str) -> str:
    tool = binaries(next(c for c in COMPONENTS if c.name == "kubernetes"))["kubectl"]
    done = subprocess.run([str(tool), "--kubeconfig", str(kube.kubeconfig), *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_node_is_ready_and_takes_workloads_like_a_swarm_node(kube):
    nodes = {node.hostname: node for node in kube.engine.nodes()}
    assert sorted(nodes) == ["node1", "node2", "node3"]
    assert all(node.state == "ready" and node.availability == "active" for node in nodes.values())
    assert [name for name, node in nodes.items() if node.role == "manager"] == ["node1"]
    assert nodes["node1"].labels["chaos.lb"] == "true" and nodes["node3"].labels["chaos.stateful"] == "true"
    assert not json.loads(kubectl(kube, "get", "node", "node1", "-o", "json"))["spec"].get("taints")


def test_the_api_server_speaks_tls_only_and_refuses_a_client_without_a_certificate(kube):
    assert stat.S_IMODE(kube.kubeconfig.stat().st_mode) == 0o600
    address = kube.state.node_ips["node1"]
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=_ca(kube))  # the server's certificate chains to the cluster's own CA
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"https://{address}:6443/api/v1/nodes", context=context, timeout=10)
    assert refused.value.code in (401, 403)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{address}:6443/api/v1/nodes", timeout=10)


def test_cluster_dns_is_pulled_from_the_clusters_registry_and_only_pause_is_imported(kube):
    pods = json.loads(kubectl(kube, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"))
    [pod] = pods["items"]
    assert pod["spec"]["containers"][0]["image"].startswith("registry:5000/")
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    for node in kube.state.nodes:
        listed = kube.exec(node, ["sh", "-c", "ctr -n k8s.io images ls -q 2>/dev/null"]).output.split()
        names = {name for name in listed if not name.startswith("sha256:")}
        assert all(name.startswith(("registry:5000/", "docker.io/chaos-harness/pause:")) for name in names), names


def test_cluster_status_names_the_kubeconfig(kube, tmp_path):
    done = CliRunner().invoke(main, ["--cluster", kube.config.name, "cluster", "status"],
                              env={"CHAOS_HOME": str(kube.config.workdir)})
    assert done.exit_code == 0, done.output
    assert f"kubeconfig\t{kube.kubeconfig}" in done.output
    assert "node2\trunning\tkubernetes Ready, schedulable, worker" in done.output  # in Kubernetes' words


@pytest.fixture(scope="module")
def demo_app(kube) -> App:
    return App.prepare(load_profile(DEFAULT_PROFILE), kube.builder, ["old", "new", "broken"])


def test_lint_proves_a_rollout_that_may_take_the_only_pod_is_an_outage_and_surging_first_loses_nothing(kube,
                                                                                                       tmp_path):
    """kubernetes-rollout-takes-every-pod on a copy of the demo whose web Deployment has one replica, maxSurge 0
    and maxUnavailable 25% (a quarter of a pod, rounded to the whole pod): the proof's clients see an outage; the
    fixed variant (maxUnavailable 0, maxSurge 1) is a clean rolling update that completes, serves v2 and reads every
    acknowledged write back."""
    demo = relocatable(DEFAULT_PROFILE)
    manifests = tmp_path / "kubernetes"
    shutil.copytree(demo["kubernetes"]["manifests"], manifests)
    web, *others = yaml.safe_load_all((manifests / "web.yaml").read_text())
    web["spec"].update(replicas=1, strategy={"type": "RollingUpdate",
                                             "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}})
    (manifests / "web.yaml").write_text(yaml.safe_dump_all([web, *others]))
    demo["kubernetes"]["manifests"] = str(manifests)
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo, sort_keys=False))
    proof, lint_dir = lint_proofs(kube, str(tmp_path / "demo.yaml"), "kubernetes-rollout-takes-every-pod", tmp_path,
                                  "warmup=5s", "observe=8s")
    assert proof["reproduced"] is True and proof["fix_removed"] is True, proof
    (fixed_report,) = lint_dir.glob("*-fixed-in-service/report.json")
    fixed = json.loads(fixed_report.read_text())
    assert fixed["upgrade"]["outcome"] == "completed" and fixed["versions"]["counts"].get("v2", 0) > 0
    assert fixed["writes"]["acknowledged"] > 0 and fixed["writes"]["lost"] == 0, fixed["writes"]


def test_service_switch_flips_the_live_services_selector_and_measures_what_clients_saw_of_it(kube, demo_app, tmp_path):
    """Green beside blue in blue's namespace, the live Service's selector patched from blue's pods to green's, HAProxy
    sending to every node's NodePort: each answer is tied to its pod by the nodes' connection tracking; every node's
    kube-proxy follows the switch within seconds (HAProxy's health checks open a connection each second), connections
    opened before the switch stay on blue's pods, and no request fails in between (one may time out while green
    starts on a loaded machine: no part of the switch)."""
    result = Runner(shortened("clean-upgrade", "service-switch", warmup=5, observe=8), kube, tmp_path,
                    demo_app).run()
    report = result.report
    assert report["upgrade"]["outcome"] == "completed", report["upgrade"]
    counts, ok = report["versions"]["counts"], report["load"]["samples"] - report["load"]["failed"]
    assert set(counts) <= {"v1", "v2"} and counts.get("v1", 0) > 0, counts
    assert sum(counts.values()) >= 0.99 * ok, (counts, ok)  # (almost) every answer tied to a pod
    found = report["propagation"]
    assert found["failed"] == 0 and found["unattributed"] == 0, found
    assert sorted(found["nodes"]) == ["node1", "node2", "node3"], found
    # a node may still send a new connection to blue for a moment (70 ms was seen), never after it sent one to green
    assert all(0 <= node["first_new"] < 5 and (node["last_old"] is None or node["last_old"] < node["first_new"])
               for node in found["nodes"].values()), found
    # v1 answered after the switch on connections opened before it (but for one a node opened in its first moment);
    # v2 never did
    kept = found["kept_alive"]
    assert "v2" not in kept and kept.get("v1", 0) >= found["old_answers"] - 5, found
    (traced,) = events_of(result.run_dir, "connections.collected")
    assert traced.get("translations") > 0 and not traced.get("missed"), traced.data
    finals = {e.get("service"): e for e in events_of(result.run_dir, "engine.final")}
    assert finals["chaos_web-green"].get("running") == {"v2": 3}
    assert {v for counts in finals["chaos_web-green"].get("processes").values() for v in counts} == {"v2"}


def deadline(scenario: Scenario, seconds: float = 15) -> Scenario:
    """``scenario`` with a shorter progress deadline than its default (which leaves 30 s for a pod's start): a
    pod of the demo starts in about 5 s on a warm cluster, and CI's time is short."""
    options = KubernetesOptions(progress_deadline=seconds)
    return scenario.model_copy(update={"strategy": scenario.strategy.model_copy(update={"kubernetes": options})})


def test_lint_proves_a_charts_rollout_is_left_half_done_at_its_deadline_and_the_harnesss_undo_is_verified(kube,
                                                                                                         tmp_path):
    """lint --prove on the guestbook as its Helm chart (a StatefulSet with a claim template, a Secret), as a user
    runs it: the proof (the broken release, the progress deadline passed) leaves the rollout paused, the old pods
    serving; the fixed variant, where the harness undoes the rollout at the deadline, is rolled back and verified,
    the broken release never served, and no acknowledged write in the StatefulSet's data is lost."""
    proof, lint_dir = lint_proofs(kube, str(GUESTBOOK), "kubernetes-progress-deadline-without-undo", tmp_path,
                                  "warmup=5s", "observe=10s")
    assert proof["reproduced"] is True and "upgrade paused" in proof["observed"], proof
    assert proof["fix_removed"] is True and "upgrade rolled_back" in proof["fixed_observed"], proof
    (fixed_report,) = lint_dir.glob("*-fixed-in-service/report.json")
    fixed = json.loads(fixed_report.read_text())
    assert "the harness undid the rollout" in fixed["upgrade"]["message"]
    assert fixed["rollback"]["success"] is True, fixed["rollback"]["reasons"]
    assert set(fixed["versions"]["counts"]) == {"1.0"}  # the broken release never served
    assert fixed["writes"]["acknowledged"] > 0 and fixed["writes"]["lost"] == 0, fixed["writes"]
    assert "guestbook-db" in kubectl(kube, "get", "secret", "-n", "chaos", "-o", "name")  # the chart's own objects
    assert (lint_dir / "lint.html").is_file() and "kubernetes-progress-deadline-without-undo" in (
        lint_dir / "lint.md").read_text()


def test_an_unreachable_registry_fails_the_pull_and_the_undo_is_verified(kube, demo_app, tmp_path):
    result = Runner(deadline(shortened("registry-unreachable", warmup=5, observe=10, verify_window=5)), kube,
                    tmp_path, demo_app).run()
    (inject,) = events_of(result.run_dir, "fault.inject")
    stuck = [e.data for e in events_of(result.run_dir, "engine.task")
             if e.get("version") == "v2" and e.get("node") == inject.get("target")]
    assert stuck and not any(e["state"] in ("starting", "running") for e in stuck), stuck  # its pull never finished
    assert result.report["upgrade"]["outcome"] == "rolled_back"
    assert result.report["rollback"]["success"] is True, result.report["rollback"]["reasons"]


def test_a_profile_without_kubernetes_objects_is_deployed_from_its_compose_file(kube, demo_app, tmp_path):
    """The demo given as its compose file only: each service becomes a Deployment and a headless Service."""
    demo = relocatable(DEFAULT_PROFILE)
    del demo["kubernetes"]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo, sort_keys=False))
    compose_only = App.prepare(load_profile(tmp_path / "demo.yaml"), kube.builder, ["old", "new"])
    result = Runner(shortened("clean-upgrade", warmup=5, observe=5), kube, tmp_path, compose_only).run()
    assert result.report["upgrade"]["outcome"] == "completed" and result.report["writes"]["lost"] == 0
    assert "chaos-harness-entry" not in kubectl(kube, "get", "services", "-n", "chaos", "-o", "name")


def test_a_frozen_nodes_census_shows_what_it_runs_while_the_api_says_otherwise(kube, demo_app, tmp_path):
    """The kubelet and containerd of a node are frozen: the census still reads what its containers run."""
    result = Runner(deadline(shortened("frozen-daemon", warmup=5, observe=5)), kube, tmp_path, demo_app).run()
    (inject,) = events_of(result.run_dir, "fault.inject")
    (final,) = [e.data for e in events_of(result.run_dir, "engine.final") if e.get("service") == "chaos_web"]
    assert final["processes"][inject.get("target")], final  # the frozen node's containers were counted
    found = census(kube.exec, kube.state.nodes, "chaos_web", kube.engine.runtime)
    running = {t.node for t in kube.engine.service("chaos_web").running()}
    assert {node for node, counts in found.items() if counts} >= running, (found, running)


@pytest.mark.parametrize("kind", ["task-kill", "port-conflict", "node-drain"])
def test_a_fault_takes_the_meaning_a_kubernetes_user_expects_and_heals(kube, demo_app, kind):
    """task-kill: the kubelet restarts the killed container in its pod; port-conflict: a pod of the harness holds
    the hostPort, so a pod that wants it there is unschedulable; node-drain: the node cordoned and its pods evicted
    elsewhere, uncordoned by the heal. Each shows its symptom, holds, and heals."""
    trial = exercise(kube, demo_app, kind, "node2")
    assert not trial.symptom_before and trial.held_after_inject and not trial.held_after_heal, trial
    assert not kube.engine.port_holds("node2")
    assert all(node.availability == "active" for node in kube.engine.nodes())


DEMO_PDB = GUESTBOOK.parents[1] / "demo-pdb" / "demo-pdb.yaml"


def test_a_drain_meets_the_apps_disruption_budget_and_evicts_once_it_allows(kube):
    """examples/demo-pdb, its budget tightened to no pod down: node2's web pod is refused in the API's words, tried
    again every second; once the budget allows one pod down again it is evicted and nothing is refused any more."""
    app = App.prepare(load_profile(DEMO_PDB), kube.builder, ["old", "new"])
    app.push(kube.push_image)
    deploy_and_wait(kube.engine, router(kube.state.lb_admin), stack_for(kube, app, Stack()))
    def budget(down: int) -> None:
        kubectl(kube, "patch", "pdb", "web", "-n", "chaos", "--type", "merge",
                "-p", json.dumps({"spec": {"maxUnavailable": down}}))

    def allows_none() -> bool:
        seen, wanted, allowed = kubectl(kube, "get", "pdb", "web", "-n", "chaos", "-o", "jsonpath="
                                        "{.status.observedGeneration} {.metadata.generation} "
                                        "{.status.disruptionsAllowed}").split()
        return seen == wanted and allowed == "0"
    budget(0)
    wait_until(allows_none, timeout=20, what="the budget to allow no pod down")
    fault, ctx = registry.create("node-drain", {}, "node2"), FaultContext(kube, "chaos_web")
    fault.inject(ctx)
    try:
        wait_until(lambda: len(fault.refused) >= 2, timeout=10, what="two refusals, a second apart")
        assert fault.verify(ctx) and fault.cleared_after is None, fault.said()
        assert "Cannot evict pod as it would violate the pod's disruption budget" in fault.said()
        budget(1)
        wait_until(lambda: fault.cleared_after is not None, timeout=20, what="the budget to allow the eviction")
        wait_until(lambda: tasks_moved_off(ctx, "node2", 0.0), timeout=30, what="node2's web pod evicted")
    finally:
        fault.heal(ctx)
    assert not fault.verify(ctx)


def test_an_existing_cluster_is_reached_through_its_kubeconfig_and_its_owners_ssh_only_and_left_as_it_was(
        kube, tmp_path):
    """The module's cluster as a cluster of the user's (--provider existing), driven as a new user would: refused
    until its owner marks it as a test cluster, with nothing made. Through its kubeconfig only, a fault that needs a
    shell on the nodes is refused before the run. With the SSH inventory of its nodes (sshd started by their owner),
    a task is killed on a node and a bad release is undone, verified down to every node's processes, in the
    namespaces asked for, the load balancer on the node asked for and reached at NodePorts; a fault that needs the
    harness's own registry is still refused. Each down deletes the namespaces, and the cluster's namespaces and
    nodes and the hosts are as they were before up. The module's own stack, if deployed, stays as it is: the load
    balancer goes to a node whose host ports are free."""
    before = kubectl(kube, "get", "namespaces", "-o", "name")
    home, reports = tmp_path / "home", tmp_path / "reports"  # the one run that runs; the refused ones elsewhere
    target = ["--engine", "kubernetes", "--provider", "existing", "--kubeconfig", str(kube.kubeconfig),
              "--registry", f"127.0.0.1:{kube.state.registry_port}", "--registry-as", "registry:5000",
              "--namespace", "kext"]

    def cli(*args: str) -> tuple[int, str]:
        """The exit code, and what the command printed as one line (the terminal's wrapping undone)."""
        done = subprocess.run([sys.executable, "-m", "harness.cli", "--cluster", "chaos-kext", *args], text=True,
                              capture_output=True, timeout=600, env={**os.environ, "CHAOS_HOME": str(home)})
        return done.returncode, " ".join((done.stdout + done.stderr).split())

    def scenario(name: str, **changes) -> str:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**deadline(shortened(name, warmup=5, observe=10, verify_window=5)).model_dump(
            mode="json", by_alias=True), **changes}))
        return str(path)

    code, said = cli(*target, "cluster", "up")
    assert code == 2 and "is not marked as a test cluster" in said, said
    assert not (home / "clusters").exists()
    core = CoreV1Api(kube.engine.api)
    core.create_namespaced_config_map(existing.MARKER[0], {"metadata": {"name": existing.MARKER[1]}})
    try:
        assert cli(*target, "cluster", "up")[0] == 0
        code, said = cli("run", scenario("halted-node"), "--reports", str(tmp_path / "refused"))
        assert code == 2 and "not on this cluster: it needs a shell on the nodes" in said, said
        code, said = cli("down")
        assert code == 0 and "fingerprints match" in said, said

        inventory = _owner_ssh(kube, tmp_path)
        code, said = cli(*target, "--inventory", str(inventory), "--lb-node", "node3", "--lb-expose", "nodeport",
                         "cluster", "up")
        assert code == 0, said
        lb = json.loads((home / "clusters" / "chaos-kext" / "cluster.json").read_text())
        assert lb["nodes"][0] == "node3" and set(lb["lb_node_ports"]) == {"http", "admin"}, lb
        killed = [{"kind": "task-kill", "target": {"node": "node2"}, "at": {"phase": "warmup", "offset": "1s"}}]
        code, said = cli("run", scenario("bad-release-rollback", faults=killed), "--reports", str(reports))
        assert code == 0, said[-3000:]
        report = json.loads(next(reports.glob("*/report.json")).read_text())
        assert report["upgrade"]["outcome"] == "rolled_back" and report["rollback"]["success"] is True, report
        assert report["rollback"]["unverified"] == [] and report["faults"][0]["heal_ok"] is True, report
        (final,) = events_of(next(reports.glob("*/report.json")).parent, "engine.final")
        assert {v for counts in final.get("processes").values() for v in counts or {}} == {"v1"}, final.data
        assert report["cluster"]["provider"] == "existing" and set(report["versions"]["counts"]) == {"v1"}
        assert "namespace/kext\n" in kubectl(kube, "get", "namespaces", "-o", "name")
        assert kubectl(kube, "get", "pods", "-n", "kext", "-l", "chaos-harness.io/service=harness-lb", "-o",
                       "jsonpath={.items[*].spec.nodeName}") == "node3"
        assert kubectl(kube, "get", "service", "harness-lb-nodeport", "-n", "kext", "-o",
                       "jsonpath={.spec.ports[*].nodePort}") == f"{lb['lb_node_ports']['http']} {lb['lb_node_ports']['admin']}"
        code, said = cli("run", scenario("registry-unreachable"), "--reports", str(tmp_path / "refused"))
        assert code == 2 and "it needs the harness's own registry" in said, said
        code, said = cli("down")
        assert code == 0 and "fingerprints match" in said, said
        assert existing.present(Target(str(kube.kubeconfig), "unused", namespace="kext")) == []
        assert kubectl(kube, "get", "namespaces", "-o", "name") == before
    finally:
        core.delete_namespaced_config_map(existing.MARKER[1], existing.MARKER[0])


def _owner_ssh(kube: Cluster, tmp_path) -> Path:
    """What a cluster's owner does to let the harness in: sshd started on every node (a service of the node's
    supervisor, so that it comes back with the node), root's key authorized; the inventory that names them."""
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(tmp_path / "owner_key"))
    (tmp_path / "owner_key").chmod(0o600)
    public = f"{key.get_name()} {key.get_base64()}\n"
    client = docker.from_env()
    hosts = []
    for node, address in kube.state.node_ips.items():
        container = client.containers.get(kube.config.resource_name(node))
        done = container.exec_run(["sh", "-c", f"""mkdir -p /root/.ssh /run/sshd && printf '%s' '{public}' \
> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys && ssh-keygen -A >/dev/null && \
echo 'mkdir -p /run/sshd; exec /usr/sbin/sshd -D -e' > /etc/chaos-harness/services/sshd"""])
        assert done.exit_code == 0, done.output
        hosts.append({"name": node, "address": address, "user": "root", "become": "root", "key": "owner_key"})
    wait_until(lambda: all(_answers_ssh(h["address"]) for h in hosts), timeout=30, what="sshd on every node")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"hosts": hosts}))
    return inventory


def _answers_ssh(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=2) as probe:
            return probe.recv(4).startswith(b"SSH-")
    except OSError:
        return False


CRASH = """
name: crash-while-faults-hold
phases: {warmup: 300s, observe: 1s, verify_window: 1s}
faults:
  - {kind: registry-firewall, target: {node: node2}, at: {phase: warmup, offset: 1s}}
  - {kind: node-drain, target: {node: node2}, at: {phase: warmup, offset: 1s}}
  - {kind: daemon-freeze, target: {node: node2}, at: {phase: warmup, offset: 2s}}
  - {kind: node-halt, target: {node: node3}, at: {phase: warmup, offset: 2s}, params: {mode: forced}}
"""


def test_sigkill_of_a_run_then_heal_leaves_no_fault_behind(kube, tmp_path):
    """The run holding four faults is killed; audit names each trace (a frozen kubelet, a firewall rule, a node
    drained, a node not running) and `heal` undoes them all: the cluster is Ready again and audit finds nothing."""
    reports = tmp_path / "reports"
    killed_once_faults_hold(kube, CRASH, 4, tmp_path)
    found = [str(leftover) for leftover in audit(kube.config, reports)]
    for trace in ("pending heal: daemon-freeze", "node2: firewall rule", "node2: stopped engine: kubelet",
                  "node2: drained", "node node3 is not running"):
        assert any(trace in line for line in found), f"audit missed {trace!r}: {found}"
    assert harness_cli(kube, "heal", "--reports", str(reports)).wait(timeout=300) == 0
    wait_until(lambda: all(n.state == "ready" for n in kube.engine.nodes()), timeout=180, what="nodes Ready")
    wait_until(lambda: audit(kube.config, reports) == [], timeout=120, what="audit to find nothing left behind")


def test_down_leaves_nothing(kube):
    teardown = kube.down()
    assert teardown.complete, teardown
    client = docker.from_env()
    label = {"label": f"{CLUSTER_LABEL}={kube.config.name}"}
    assert not client.containers.list(all=True, filters=label)
    assert not client.networks.list(filters=label) and not client.volumes.list(filters=label)
    assert not kube.config.state_dir.exists()


def _ca(kube: Cluster) -> str:
    import base64

    import yaml
    config = yaml.safe_load(kube.kubeconfig.read_text())
    return base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
