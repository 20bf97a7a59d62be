"""Vagrant VMs as far as this machine goes: libvirt up to the box download, VirtualBox refused; nothing left.

VMs cannot boot here and there is no internet, so ``cluster up --provider
libvirt`` runs the Vagrantfile's libvirt section through vagrant-libvirt and
libvirt to the point where the box is fetched; that fails, and the failure
must be reported with what to do and leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.dockerhost import CLUSTER_LABEL, host_docker

pytestmark = pytest.mark.docker
CLUSTER = "chaos-vm"
ABSENT_BOX = "chaos-harness/no-such-box"  # a box no machine has, so the download is always attempted


def harness(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAOS_HOME": str(home), "CHAOS_VM_BOX": ABSENT_BOX}
    return subprocess.run([sys.executable, "-m", "harness.cli", "--cluster", CLUSTER, *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def domains() -> set[str]:
    listed = subprocess.run(["virsh", "--connect", "qemu:///system", "list", "--all", "--name"],
                            capture_output=True, text=True, check=True)
    return {name for name in listed.stdout.split() if name}


def labelled() -> list[str]:
    client, label = host_docker(), {"label": f"{CLUSTER_LABEL}={CLUSTER}"}
    return [c.name for c in client.containers.list(all=True, filters=label)] + \
        [n.name for n in client.networks.list(filters=label)] + [v.name for v in client.volumes.list(filters=label)]


def test_libvirt_vms_get_as_far_as_the_box_download_and_the_failure_leaves_nothing(tmp_path):
    before = domains()
    done = harness(tmp_path, "--provider", "libvirt", "cluster", "up")
    said = " ".join(done.stderr.split())
    assert done.returncode == 3, said
    assert "starting 3 VMs (libvirt provider)" in said
    assert f"The box '{ABSENT_BOX}' could not be found" in said  # Vagrant went to fetch it
    assert f"vagrant box add --name {ABSENT_BOX} FILE.box" in said  # and the user is told what to do
    assert "removing what was created" in said
    assert domains() == before
    assert labelled() == []
    assert not (tmp_path / "clusters" / CLUSTER).exists()


@pytest.mark.skipif(shutil.which("VBoxManage") is not None, reason="VirtualBox is installed on this machine")
def test_virtualbox_without_virtualbox_is_refused_before_anything_is_made(tmp_path):
    done = harness(tmp_path, "--provider", "virtualbox", "cluster", "up")
    said = " ".join(done.stderr.split())
    assert done.returncode == 3, said
    assert "--provider virtualbox: VirtualBox is not installed" in said
    assert labelled() == []
    assert not (tmp_path / "clusters" / CLUSTER).exists()
