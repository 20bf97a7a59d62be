"""Kubernetes on hosts reached over SSH only (``--engine kubernetes --provider ssh``): up, a bad release with its
rollout undo verified on every node, a host powered off and on, and down leaving every host as it was.

The hosts are node containers running sshd and dockerd, as for the Swarm's ssh provider
(tests/integration/ssh_hosts.py); each gets the harness's Kubernetes node as a container of its own engine.
"""

from __future__ import annotations

import docker
import pytest

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.build import NODE_IMAGE, ImageBuilder
from harness.cluster import Cluster, ClusterConfig
from harness.cluster.kubehosts import container_name
from harness.runner import Runner
from harness.waiting import wait_until
from tests.integration.conftest import up_then_down
from tests.integration.ssh_hosts import KUBERNETES_HOST, start_ssh_hosts
from tests.integration.test_end_to_end import shortened
from tests.integration.test_kubernetes_cluster import deadline
from tests.integration.test_ssh_hosts import HOST_VIEW, on_host

pytestmark = pytest.mark.docker
NAMES = ["node1", "node2"]  # the control plane and load balancer, and the stateful host: two are enough
CLUSTER = "chaos-kubehosts"
NETWORK_VIEW = "ip -o link show | awk '{print $2}'; ip route show"
PORTS = {"lb_port": 23080, "lb_admin_port": 23999, "registry_port": 23500, "toxiproxy_port": 23474}  # below 32768


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kube-hosts")
    node_image = ImageBuilder(docker.from_env()).build(NODE_IMAGE)
    started = start_ssh_hosts(directory, "chaos-kubehost", node_image, NAMES, subnet="172.31.241.0/24",
                              **KUBERNETES_HOST)
    started.views = {name: on_host(started, name, HOST_VIEW + NETWORK_VIEW) for name in NAMES}
    yield started
    started.stop()


@pytest.fixture(scope="module")
def kube(hosts, tmp_path_factory) -> Cluster:
    config = ClusterConfig(name=CLUSTER, provider="ssh", engine="kubernetes", inventory=hosts.inventory,
                           workdir=tmp_path_factory.mktemp("chaos-home-kubehosts"), **PORTS)
    yield from up_then_down(config)


@pytest.fixture(scope="module")
def demo(kube) -> App:
    return App.prepare(load_profile(DEFAULT_PROFILE), kube.builder, ["old", "new"])


def test_every_host_is_a_ready_node_at_its_own_address_and_nothing_else_on_it_changed(kube, hosts):
    nodes = {node.hostname: node for node in kube.engine.nodes()}
    assert sorted(nodes) == NAMES and all(node.state == "ready" for node in nodes.values())
    assert kube.node_addresses() == hosts.addresses
    for name in NAMES:
        assert container_name(CLUSTER) in on_host(hosts, name, "docker ps --format '{{.Names}}'")
        view = on_host(hosts, name, "cat /etc/hosts; cat /etc/docker/daemon.json 2>/dev/null")
        assert "chaos-harness" not in view and "registry" not in view  # the node resolves the registries itself


def test_a_bad_release_is_undone_and_the_undo_verified_on_every_host(kube, demo, tmp_path):
    result = Runner(deadline(shortened("bad-release-rollback", warmup=5, observe=10, verify_window=5)), kube,
                    tmp_path, demo).run()
    assert result.report["upgrade"]["outcome"] == "rolled_back"
    assert result.report["rollback"]["success"] is True, result.report["rollback"]["reasons"]
    assert result.report["rollback"]["unverified"] == []  # every host's node read: the undo is proven there
    assert set(result.report["versions"]["counts"]) == {"v1"} and result.report["load"]["failed"] == 0


def test_a_host_powered_off_and_on_is_a_ready_node_again(kube):
    """What node-halt does to a host (its power commands), and what brings its node back: the host's engine."""
    kube.halt_node("node2")
    assert kube.node_states()["node2"] == "stopped"
    kube.start_node("node2")  # waits for the host's engine to start the node container again
    assert kube.node_states() == {name: "running" for name in NAMES}
    wait_until(lambda: kube.exec("node2", ["pidof", "kubelet"]).ok, timeout=60,
               what="the kubelet to run again in the restarted node container")
    wait_until(lambda: all(node.state == "ready" for node in kube.engine.nodes()), timeout=180,
               what="the powered-off host's node to be Ready again")


def test_down_proves_every_host_as_it_was_and_would_name_what_kubernetes_left(kube, hosts):
    on_host(hosts, "node2", "ip link add kube-bridge type bridge")  # as kube-router's CNI would leave its bridge
    teardown = kube.down()
    assert teardown.differences == ["node2: links: now has kube-bridge"], teardown
    on_host(hosts, "node2", "ip link delete kube-bridge")
    assert kube.fingerprint_differences() == []
    assert kube.down().complete
    for name in NAMES:
        assert on_host(hosts, name, HOST_VIEW + NETWORK_VIEW) == hosts.views[name]
