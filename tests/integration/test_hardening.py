"""The cluster never does more than it was asked: no open engine API, clusters side by side, no half-made cluster."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from harness.audit import audit
from harness.cluster import Cluster
from harness.cluster.registry import RegistryProxy
from harness.dockerhost import CLUSTER_LABEL, host_docker
from harness.errors import ClusterError

pytestmark = pytest.mark.docker


def accepts(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((address, port)) == 0


def labelled(name: str) -> list[str]:
    client, label = host_docker(), {"label": f"{CLUSTER_LABEL}={name}"}
    return [c.name for c in client.containers.list(all=True, filters=label)] + \
        [n.name for n in client.networks.list(filters=label)] + [v.name for v in client.volumes.list(filters=label)]


def test_no_node_engine_accepts_a_connection_on_port_2375(cluster):
    assert cluster.engine.nodes(), "the engines answer through their unix sockets"
    for node, address in cluster.node_addresses().items():
        assert not accepts(address, 2375), f"{node} ({address}) has an open Docker API on 2375"


def test_a_second_cluster_runs_beside_the_first_on_its_own_ports_and_network(cluster, tmp_path):
    second = Cluster(replace(cluster.config, name="chaos-side", lb_port=None, lb_admin_port=None,
                             registry_port=None, toxiproxy_port=None))
    try:
        state = second.up()
        assert not set(state.ports.values()) & set(cluster.state.ports.values())
        assert not set(state.node_ips.values()) & set(cluster.state.node_ips.values())
        assert second.problems() == [] and cluster.problems() == []
        assert audit(second.config, tmp_path) == []
    finally:
        second.down()
    assert labelled("chaos-side") == [] and audit(second.config, tmp_path) == []
    assert cluster.problems() == []


def test_a_cluster_that_fails_to_come_up_leaves_nothing_behind(cluster, monkeypatch):
    def broken(*_):
        raise ClusterError("Toxiproxy refused to start (simulated)")
    monkeypatch.setattr(RegistryProxy, "ensure_running", broken)
    doomed = Cluster(replace(cluster.config, name="chaos-doomed", lb_port=None, lb_admin_port=None,
                             registry_port=None, toxiproxy_port=None))
    with pytest.raises(ClusterError, match="simulated"):
        doomed.up()
    assert labelled("chaos-doomed") == []
    assert not doomed.config.state_dir.exists()


def test_an_explicit_port_in_use_is_refused_before_anything_is_created(cluster):
    taken = replace(cluster.config, name="chaos-taken", lb_port=cluster.state.lb_port)
    with pytest.raises(ClusterError, match=f"{cluster.state.lb_port} .*cluster 'chaos-it'"):
        Cluster(taken).up()
    assert labelled("chaos-taken") == []


def test_down_keeps_a_state_directory_it_cannot_prove_is_its_own(cluster):
    config = replace(cluster.config, name="chaos-unmarked")
    config.state_dir.mkdir(parents=True)
    (config.state_dir / "precious.txt").write_text("not the harness's")
    removed = Cluster(config).down().removed
    assert (config.state_dir / "precious.txt").exists()
    assert any("kept" in line and "marker" in line for line in removed), removed


def test_a_name_other_objects_carry_is_refused_and_they_are_left_alone(cluster):
    ghost = host_docker().volumes.create("chaos-ghost-data", labels={CLUSTER_LABEL: "chaos-ghost"})
    try:
        with pytest.raises(ClusterError, match="carry its name: volume chaos-ghost-data"):
            Cluster(replace(cluster.config, name="chaos-ghost", lb_port=None, lb_admin_port=None,
                            registry_port=None, toxiproxy_port=None)).up()
        assert labelled("chaos-ghost") == ["chaos-ghost-data"]
    finally:
        ghost.remove()
