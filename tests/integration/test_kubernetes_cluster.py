"""A real Kubernetes cluster of node containers: every node Ready, TLS only, images pulled from the cluster's
registry (only the pause image is imported), kubectl with the admin kubeconfig, and nothing left after down."""

from __future__ import annotations

import json
import ssl
import stat
import subprocess
import urllib.error
import urllib.request

import docker
import pytest

from harness.cluster import Cluster, ClusterConfig
from harness.dockerhost import CLUSTER_LABEL
from harness.engine.kubernetes.binaries import COMPONENTS, binaries

pytestmark = pytest.mark.docker

KUBE_CLUSTER = dict(name="chaos-kube", nodes=3, lb_port=38080, lb_admin_port=39999, registry_port=35000,
                    toxiproxy_port=38474, engine="kubernetes")


@pytest.fixture(scope="module")
def kube(tmp_path_factory) -> Cluster:
    handle = Cluster(ClusterConfig(**KUBE_CLUSTER, workdir=tmp_path_factory.mktemp("kube-home")))
    try:
        handle.up()
    except BaseException:
        handle.down()
        raise
    yield handle
    handle.down()


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
        listed = kube.exec(node, ["ctr", "-n", "k8s.io", "images", "ls", "-q"]).output.split()
        names = {name for name in listed if not name.startswith("sha256:")}
        assert all(name.startswith(("registry:5000/", "docker.io/chaos-harness/pause:")) for name in names), names


def test_cluster_status_names_the_kubeconfig(kube, tmp_path):
    from click.testing import CliRunner

    from harness.cli import main
    done = CliRunner().invoke(main, ["--cluster", kube.config.name, "cluster", "status"],
                              env={"CHAOS_HOME": str(kube.config.workdir)})
    assert done.exit_code == 0, done.output
    assert f"kubeconfig\t{kube.kubeconfig}" in done.output
    assert "node2\trunning\tkubernetes ready/active worker" in done.output


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
