"""Cluster names, state directories and host ports: what may become a path, and what two clusters share."""

from __future__ import annotations

import json
import socket

import pytest

from harness.cluster.config import STATE_MARKER, ClusterConfig, ClusterState, check_name
from harness.cluster.ports import DEFAULT_PORTS, choose_ports, listening
from harness.errors import ClusterError, UsageError


@pytest.mark.parametrize("name", ["", "..", "../../somewhere", "a b", "a/b", "Chaos", "1st", "x" * 5000, "-a"])
def test_a_name_that_could_escape_or_mislead_is_refused(name):
    with pytest.raises(ValueError, match="lowercase letter"):
        check_name(name)
    with pytest.raises(UsageError):
        ClusterConfig(name=name)


@pytest.mark.parametrize("name", ["chaos", "chaos-it", "second", "a" + "b" * 30])
def test_plain_names_are_allowed(name):
    assert ClusterConfig(name=name).state_dir.name == name


def _state(name: str, **ports: int) -> ClusterState:
    return ClusterState(name=name, provider="docker", nodes=["node1"], node_ips={"node1": "10.0.0.11"},
                        node_image="node:x", **{**DEFAULT_PORTS, **ports})


def test_only_a_marked_state_directory_inside_the_clusters_directory_is_owned(tmp_path):
    config = ClusterConfig(name="owned", workdir=tmp_path)
    config.state_dir.mkdir(parents=True)
    assert not config.owns_state_dir()  # a directory someone else made
    _state("owned").save(config.state_dir)
    assert (config.state_dir / STATE_MARKER).is_file() and config.owns_state_dir()


def test_a_damaged_state_file_is_a_cluster_error_naming_it(tmp_path):
    (tmp_path / "cluster.json").write_text('{"name": "ok", "provider"')
    with pytest.raises(ClusterError, match="cluster.json is damaged"):
        ClusterState.load(tmp_path)
    (tmp_path / "cluster.json").write_text(json.dumps({**_state("ok").__dict__, "name": "../up"}))
    with pytest.raises(ClusterError, match="damaged"):
        ClusterState.load(tmp_path)


def test_a_second_cluster_never_gets_the_ports_another_cluster_holds(tmp_path):
    first = ClusterConfig(name="first", workdir=tmp_path)
    _state("first").save(first.state_dir)
    second = choose_ports(ClusterConfig(name="second").asked_ports, first.clusters_dir, "second")
    assert not set(second.values()) & set(DEFAULT_PORTS.values())
    assert len(set(second.values())) == len(DEFAULT_PORTS)


def test_a_cluster_takes_each_default_port_that_is_free_and_another_for_each_that_is_not(tmp_path, monkeypatch):
    with socket.socket() as held:  # defaults of our own: one held here, the others free (the real ones may be taken)
        held.bind(("127.0.0.1", 0))
        held.listen()
        defaults = {"lb_port": held.getsockname()[1]}
        for field in list(DEFAULT_PORTS)[1:]:
            defaults[field] = next(p for p in iter(_free_port, None) if p not in defaults.values())
        monkeypatch.setattr("harness.cluster.ports.DEFAULT_PORTS", defaults)
        chosen = choose_ports(ClusterConfig(name="only").asked_ports, tmp_path, "only")
    assert chosen["lb_port"] != defaults["lb_port"] and not _listening(chosen["lb_port"])
    assert {field: chosen[field] for field in list(DEFAULT_PORTS)[1:]} == {
        field: defaults[field] for field in list(DEFAULT_PORTS)[1:]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_explicit_port_in_use_or_held_by_another_cluster_is_refused_before_anything_starts(tmp_path):
    _state("first", lb_port=28081).save(tmp_path / "first")
    with pytest.raises(ClusterError, match="28081 .* cluster 'first'"):
        choose_ports({**ClusterConfig(name="x").asked_ports, "lb_port": 28081}, tmp_path, "x")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(ClusterError, match=f"{port} .* in use"):
            choose_ports({**ClusterConfig(name="x").asked_ports, "registry_port": port}, tmp_path, "x")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_command_quoted_in_a_message_shows_no_secret():
    from harness.cluster.vagrant import shown_command

    shown = shown_command(["docker", "login", "-u", "chaos", "--password", "hunter2", "-p", "x1",
                           "REGISTRY_PASSWORD=hunter3", "API_TOKEN=t0k", "--password-stdin", "PATH=/bin"])
    assert not [secret for secret in ("hunter2", "x1", "hunter3", "t0k") if secret in shown]
    assert "--password-stdin" in shown and "PATH=/bin" in shown and "-u chaos" in shown


def test_a_state_directory_that_is_a_link_out_of_the_clusters_directory_is_not_owned(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    _state("linked").save(elsewhere)  # carries the marker, but lives outside
    config = ClusterConfig(name="linked", workdir=tmp_path / "home")
    config.clusters_dir.mkdir(parents=True)
    config.state_dir.symlink_to(elsewhere)
    assert not config.owns_state_dir()


def test_the_harness_reaches_the_load_balancer_at_its_node_not_through_the_published_port():
    state = _state("direct", lb_port=18080)
    assert state.lb_url == "http://10.0.0.11:8080"  # no userland proxy between clients and the LB node
    assert state.published_lb_url == "http://127.0.0.1:18080"
    assert state.addresses == {"10.0.0.11"}


def test_without_a_node_address_the_load_balancer_is_reached_through_the_published_port():
    state = ClusterState(name="noip", provider="docker", nodes=["node1"], node_ips={"node1": ""},
                         node_image="node:x", **DEFAULT_PORTS)
    assert state.lb_url == f"http://127.0.0.1:{DEFAULT_PORTS['lb_port']}" and state.addresses == set()


def test_on_real_hosts_the_load_balancer_and_its_api_are_reached_at_the_manager_and_nothing_at_127():
    state = ClusterState(name="staging", provider="ssh", nodes=["alpha", "beta"],
                         node_ips={"alpha": "10.0.0.11", "beta": "10.0.0.12"}, node_image="",
                         registry_address="10.0.0.1", **DEFAULT_PORTS)
    assert state.lb_url == "http://10.0.0.11:8080" and state.lb_admin == ("10.0.0.11", 9999)
    assert state.endpoints["lb"] == "10.0.0.11:8080" and state.endpoints["hosts_pull_from"] == "10.0.0.1:5000,5001"
    containers = _state("local", lb_port=18080, lb_admin_port=19999)
    assert containers.lb_admin == ("127.0.0.1", 19999) and containers.endpoints["lb"] == "127.0.0.1:18080"
    assert "hosts_pull_from" not in containers.endpoints


@pytest.mark.parametrize("nodes, managers", [(3, 2), (3, 3), (5, 5), (5, 0)])
def test_managers_must_be_an_odd_number_below_the_node_count(nodes, managers):
    with pytest.raises(UsageError, match="an odd number .*fewer than the"):
        ClusterConfig(name="m", nodes=nodes, managers=managers)
    assert ClusterConfig(name="m", nodes=5, managers=3).managers == 3


def test_the_ssh_provider_and_an_inventory_come_together(tmp_path):
    with pytest.raises(UsageError, match="--provider ssh needs --inventory"):
        ClusterConfig(name="s", provider="ssh")
    with pytest.raises(UsageError, match="--inventory needs --provider ssh"):
        ClusterConfig(name="s", inventory=tmp_path / "hosts.yaml")


def test_a_port_is_held_while_something_listens_and_free_once_only_time_wait_connections_remain():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert listening(port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end lingers in TIME_WAIT
    client.close()
    server.close()
    assert not listening(port)


@pytest.mark.parametrize("fields, words", [
    ({"target": "cluster"}, "target must be an object"),
    ({"target": {"kubeconfig": "/k", "registry": "r:5000", "colour": "red"}}, "colour"),
    ({"target": {"kubeconfig": 5, "registry": "r:5000"}}, "target.kubeconfig must be a str"),
    ({"dns": ["10.96.0.10:53"]}, "dns must be"),
    ({"kept_labels": {"node1": "chaos.lb"}}, "kept_labels must map"),
])
def test_an_existing_clusters_damaged_fields_are_named_not_a_crash(tmp_path, fields, words):
    (tmp_path / "cluster.json").write_text(json.dumps({**_state("ok").__dict__, "provider": "existing", **fields}))
    with pytest.raises(ClusterError, match=f"damaged.*{words}"):
        ClusterState.load(tmp_path)
