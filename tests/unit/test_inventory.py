"""Inventories of hosts: every problem named with file, key, value and what is allowed, before any host is asked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cluster.inventory import load_inventory
from harness.errors import InventoryError


def key_file(directory: Path, name: str = "id_test", mode: int = 0o600) -> Path:
    key = directory / name
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    key.chmod(mode)
    return key


def write(directory: Path, document: dict) -> Path:
    path = directory / "hosts.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def hosts(**changes) -> list[dict]:
    first = {"name": "alpha", "address": "10.0.0.11", "user": "deploy", "key": "id_test", "role": "manager",
             "power_off": "virsh destroy alpha", "power_on": "virsh start alpha"}
    second = {"name": "beta", "address": "10.0.0.12", "user": "deploy", "key": "id_test"}
    return [{**first, **changes}, second]


def test_a_valid_inventory_resolves_keys_beside_it_and_names_manager_and_stateful_host(tmp_path):
    key = key_file(tmp_path)
    inventory = load_inventory(write(tmp_path, {"hosts": hosts()}))
    assert inventory.manager.name == "alpha" and inventory.stateful.name == "beta"
    assert inventory.hosts[0].key == key.resolve() and inventory.hosts[0].port == 22
    assert inventory.host("alpha").power_command("off") == ["virsh", "destroy", "alpha"]
    assert inventory.host("alpha").can_power_cycle and not inventory.host("beta").can_power_cycle
    assert inventory.swarm == "form" and inventory.on_failure == "rollback"


def test_every_problem_is_named_with_its_key_and_value(tmp_path):
    key_file(tmp_path)
    document = {"swarm": "maybe", "colour": "red",
                "hosts": [{"name": "Alpha", "address": "-oProxyCommand=x", "user": "Root!", "port": 0,
                           "key": "id_test", "become": "doas"}, {"name": "beta"}]}
    with pytest.raises(InventoryError) as raised:
        load_inventory(write(tmp_path, document))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'hosts.yaml'}: invalid inventory")
    for expected in ("swarm: got 'maybe'", "colour: got 'red': unknown key; allowed here: hosts, on_failure, registry_address, swarm",
                     "hosts.0.name: got 'Alpha'", "hosts.0.address: got '-oProxyCommand=x': Value error, a DNS name",
                     "hosts.0.user: got 'Root!': Value error, a login name", "hosts.0.port: got 0",
                     "hosts.0.become: got 'doas'", "hosts.1.address: got", "hosts.1.user: got"):
        assert expected in message


def test_hosts_listed_twice_no_manager_and_two_stateful_hosts_are_refused(tmp_path):
    key_file(tmp_path)
    twice = [{"name": "alpha", "address": "10.0.0.11", "user": "deploy", "stateful": True},
             {"name": "alpha", "address": "10.0.0.11", "user": "deploy", "stateful": True}]
    with pytest.raises(InventoryError) as raised:
        load_inventory(write(tmp_path, {"hosts": twice}))
    message = str(raised.value)
    assert "hosts.1.name: got 'alpha': the same name as hosts[0]" in message
    assert "hosts.1.address: got '10.0.0.11:22': the same address as hosts[0]" in message
    assert "hosts: got ['alpha', 'alpha']: no host has role: manager" in message
    assert "hosts.1.stateful: got True: hosts[0] is stateful already" in message


def test_the_same_address_on_another_port_is_another_host(tmp_path):
    document = {"hosts": [{"name": "alpha", "address": "10.0.0.11", "user": "root", "become": "root",
                           "role": "manager"},
                          {"name": "beta", "address": "10.0.0.11", "port": 2222, "user": "root", "become": "root"}]}
    assert [h.port for h in load_inventory(write(tmp_path, document)).hosts] == [22, 2222]


@pytest.mark.parametrize("mode, problem", [(0o644, "mode 644 lets others read it; ssh refuses such keys: chmod 600"),
                                            (0o640, "mode 640 lets others read it")])
def test_a_key_others_can_read_is_refused_with_the_fix(tmp_path, mode, problem):
    key_file(tmp_path, mode=mode)
    with pytest.raises(InventoryError, match=problem):
        load_inventory(write(tmp_path, {"hosts": hosts()}))


def test_a_missing_key_or_a_directory_as_key_is_refused(tmp_path):
    (tmp_path / "keys").mkdir()
    document = {"hosts": hosts(key="nowhere")}
    document["hosts"][1]["key"] = "keys"
    with pytest.raises(InventoryError) as raised:
        load_inventory(write(tmp_path, document))
    assert "hosts.0.key: got" in str(raised.value) and "No such file or directory" in str(raised.value)
    assert "hosts.1.key: got" in str(raised.value) and "not a regular file" in str(raised.value)


def test_root_without_the_root_user_and_an_unsplittable_power_command_are_refused(tmp_path):
    key_file(tmp_path)
    with pytest.raises(InventoryError, match="hosts.0: .*become: root needs user: root \\(got user deploy\\)"):
        load_inventory(write(tmp_path, {"hosts": hosts(become="root")}))
    with pytest.raises(InventoryError, match="hosts.0.power_on: got \"virsh start 'alpha\": .*not a command line"):
        load_inventory(write(tmp_path, {"hosts": hosts(power_on="virsh start 'alpha")}))


def test_a_forced_power_off_is_a_command_line_beside_a_graceful_one(tmp_path):
    key_file(tmp_path)
    inventory = load_inventory(write(tmp_path, {"hosts": hosts(power_off_force="virsh destroy alpha",
                                                               power_off="virsh shutdown alpha")}))
    assert inventory.host("alpha").power_command("off_force") == ["virsh", "destroy", "alpha"]
    assert inventory.host("alpha").power_command("off") == ["virsh", "shutdown", "alpha"]
    with pytest.raises(InventoryError, match="host beta has no power_off_force command"):
        inventory.host("beta").power_command("off_force")
    with pytest.raises(InventoryError, match="hosts.0.power_off_force: got \"virsh destroy 'alpha\": .*not a command"):
        load_inventory(write(tmp_path, {"hosts": hosts(power_off_force="virsh destroy 'alpha")}))
    with pytest.raises(InventoryError, match="hosts.0: .*power_off_force is the forced variant of power_off; give "
                                             "power_off"):
        load_inventory(write(tmp_path, {"hosts": hosts(power_off=None, power_off_force="virsh destroy alpha")}))


def test_one_host_is_not_a_cluster_and_an_unknown_host_is_named(tmp_path):
    key_file(tmp_path)
    with pytest.raises(InventoryError, match="hosts: got .*at least 2 items"):
        load_inventory(write(tmp_path, {"hosts": hosts()[:1]}))
    inventory = load_inventory(write(tmp_path, {"hosts": hosts()}))
    with pytest.raises(InventoryError, match="no host 'gamma' in the inventory; hosts: alpha, beta"):
        inventory.host("gamma")
    with pytest.raises(InventoryError, match="host beta has no power_off command"):
        inventory.host("beta").power_command("off")


def test_nodes_are_ordered_manager_first_and_stateful_last_and_the_manager_is_never_stateful(tmp_path):
    key_file(tmp_path)
    three = [*hosts(), {"name": "gamma", "address": "10.0.0.13", "user": "deploy", "key": "id_test",
                        "stateful": True}]
    three[0], three[2] = three[2], three[0]  # gamma (stateful) first, alpha (manager) last
    inventory = load_inventory(write(tmp_path, {"hosts": three}))
    assert [h.name for h in inventory.ordered()] == ["alpha", "beta", "gamma"]
    with pytest.raises(InventoryError, match="hosts.0.stateful: got True: the manager runs the load balancer"):
        load_inventory(write(tmp_path, {"hosts": hosts(stateful=True)}))


def test_hosts_kubernetes_is_formed_on_need_a_manager_and_refuse_the_keys_of_a_swarm_of_their_own(tmp_path):
    key_file(tmp_path)
    inventory = load_inventory(write(tmp_path, {"hosts": hosts()}), "kubernetes")
    assert inventory.manager.name == "alpha"  # the control plane, and the load balancer's host
    with pytest.raises(InventoryError) as raised:
        load_inventory(write(tmp_path, {"swarm": "existing", "on_failure": "leave", "hosts": hosts(role="worker")}),
                       "kubernetes")
    message = str(raised.value)
    assert "swarm: got 'existing': a Swarm's key: the harness forms Kubernetes on the hosts itself" in message
    assert "on_failure: got 'leave': a Swarm's key: a failed first up of Kubernetes is always taken off" in message
    assert "no host has role: manager" in message
