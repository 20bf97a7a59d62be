"""Powering inventory hosts: the inventory's commands run on this machine, the forced one when asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cluster import sshnodes
from harness.cluster.inventory import load_inventory
from harness.cluster.sshnodes import SshNodes
from harness.errors import ClusterError


def nodes_with(tmp_path: Path, **power: str) -> SshNodes:
    """Two hosts, h2 with ``power`` commands that each leave a file named after the key that ran."""
    commands = {key: f"touch {tmp_path / key}" for key in power}
    document = {"hosts": [{"name": "h1", "address": "10.0.0.1", "user": "root", "role": "manager"},
                          {"name": "h2", "address": "10.0.0.2", "user": "root", **commands}]}
    (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(document))
    return SshNodes(load_inventory(tmp_path / "hosts.yaml"), tmp_path)


def ran(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("power_"))


@pytest.fixture(autouse=True)
def silent_hosts(monkeypatch):
    monkeypatch.setattr(SshNodes, "_answers", lambda self, node: False)  # a halted host stops answering at once


@pytest.mark.parametrize("force, expected", [(False, ["power_off"]), (True, ["power_off_force"])])
def test_a_halt_runs_power_off_and_a_forced_one_power_off_force(tmp_path, force, expected):
    nodes = nodes_with(tmp_path, power_off="x", power_off_force="x", power_on="x")
    nodes.halt("h2", force=force)
    assert ran(tmp_path) == expected


def test_a_forced_halt_without_power_off_force_runs_power_off(tmp_path):
    nodes = nodes_with(tmp_path, power_off="x", power_on="x")
    assert nodes.can_power_cycle("h2") and not nodes.can_power_cycle("h1")
    nodes.halt("h2", force=True)
    assert ran(tmp_path) == ["power_off"]


def test_a_failing_power_command_names_its_key_and_output(tmp_path, monkeypatch):
    nodes = nodes_with(tmp_path, power_off="x", power_off_force="x", power_on="x")
    monkeypatch.setattr(sshnodes.subprocess, "run", lambda argv, **_: type(
        "Done", (), {"returncode": 1, "stdout": b"", "stderr": b"domain not found"})())
    with pytest.raises(ClusterError, match="power_off_force of h2 .* exited 1: domain not found"):
        nodes.halt("h2", force=True)
