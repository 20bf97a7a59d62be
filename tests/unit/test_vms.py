"""Vagrant VMs as SSH hosts: `vagrant ssh-config` read into logins, the VMs' subnet, providers this machine lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster import vms
from harness.cluster.vms import inventory_from_ssh_config, provider_problem, vm_subnet
from harness.errors import ClusterError

# What `vagrant ssh-config NODE` prints: libvirt (the VM's own address) and VirtualBox (a forwarded port).
LIBVIRT = """Host node1
  HostName 192.168.121.47
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /clusters/vms/vagrant/machines/node1/libvirt/private_key
  IdentitiesOnly yes
  LogLevel FATAL
"""
VIRTUALBOX = """Host node2
  HostName 127.0.0.1
  User vagrant
  Port 2200
  IdentityFile "/clusters/vms/vagrant/machines/node2/virtualbox/private_key"
  IdentityFile /root/.vagrant.d/insecure_private_key
  IdentitiesOnly yes
"""


def test_ssh_config_becomes_one_login_per_vm_with_the_vms_own_key():
    inventory = inventory_from_ssh_config({"node1": LIBVIRT, "node2": VIRTUALBOX}, managers=["node1"])
    first, second = inventory.hosts
    assert (first.address, first.port, first.user) == ("192.168.121.47", 22, "vagrant")
    assert first.key == Path("/clusters/vms/vagrant/machines/node1/libvirt/private_key")
    assert (second.address, second.port) == ("127.0.0.1", 2200)
    assert second.key == Path("/clusters/vms/vagrant/machines/node2/virtualbox/private_key")  # the first, unquoted
    assert inventory.manager.name == "node1" and inventory.stateful.name == "node2"
    assert first.become == "sudo" and not first.can_power_cycle  # Vagrant powers VMs, not the inventory


def test_ssh_config_without_an_address_or_key_is_named():
    with pytest.raises(ClusterError, match="vagrant ssh-config node1` names no HostName or IdentityFile"):
        inventory_from_ssh_config({"node1": "Host node1\n  User vagrant\n", "node2": VIRTUALBOX}, ["node1"])


def test_the_vms_subnet_is_the_first_private_24_no_other_cluster_uses():
    assert str(vm_subnet([])) == "192.168.56.0/24"
    assert str(vm_subnet(["192.168.56.11", "192.168.57.12", "172.28.0.11"])) == "192.168.58.0/24"
    with pytest.raises(ClusterError, match="every /24 of 192.168.56.0/21"):
        vm_subnet([f"192.168.{third}.11" for third in range(56, 64)])


def test_a_provider_this_machine_lacks_says_what_to_install(monkeypatch):
    monkeypatch.setattr(vms.shutil, "which", lambda _: None)
    assert "install VirtualBox" in provider_problem("virtualbox")
    monkeypatch.setattr(vms, "_run", lambda argv: "vagrant-share (2.0.0, global)\n" if argv[0] == "vagrant" else None)
    assert "apt-get install vagrant-libvirt" in provider_problem("libvirt")
    monkeypatch.setattr(vms, "_run", lambda argv: "vagrant-libvirt (0.11.2, system)\n" if argv[0] == "vagrant" else None)
    assert "libvirt does not answer on qemu:///system" in provider_problem("libvirt")
    monkeypatch.setattr(vms, "_run", lambda argv: "vagrant-libvirt (0.11.2, system)\n")
    assert provider_problem("libvirt") is None
