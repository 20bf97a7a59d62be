"""Kill the harness with SIGKILL while faults hold; `chaos-harness heal` must undo every one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from harness.audit import audit
from harness.faults.nodeshell import RULE_COMMENT
from harness.journal import read_journal
from harness.ledger import HealLedger
from harness.waiting import wait_until

pytestmark = pytest.mark.docker

SCENARIO = """
name: crash-while-faults-hold
stack: {publish_on_upgrade: 8081}  # what the squatter conflicts with
phases: {warmup: 300s, observe: 1s, verify_window: 1s}
faults:
  - {kind: port-conflict, target: {node: node2}, at: {phase: warmup, offset: 1s}, params: {port: 8081}}
  - {kind: registry-firewall, target: {node: node2}, at: {phase: warmup, offset: 1s}}
  - {kind: daemon-freeze, target: {node: node2}, at: {phase: warmup, offset: 2s}}
  - {kind: node-halt, target: {node: node3}, at: {phase: warmup, offset: 2s}, params: {mode: forced}}
"""


def harness(cluster, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CHAOS_HOME": str(cluster.config.workdir)}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "--cluster", cluster.config.name, *args], env=env)


def killed_once_faults_hold(cluster, scenario_text: str, faults: int, tmp_path, start_timeout: float = 180):
    """Run ``scenario_text`` (reports in ``tmp_path/reports``) and SIGKILL it once its ``faults`` faults are
    verified; the run's journal."""
    scenario, reports = tmp_path / "crash.yaml", tmp_path / "reports"
    scenario.write_text(scenario_text)
    run = harness(cluster, "run", str(scenario), "--reports", str(reports))
    try:
        journal = wait_until(lambda: next(reports.glob("*/journal.jsonl"), None), timeout=start_timeout,
                             what="the run")
        wait_until(lambda: len([e for e in read_journal(journal) if e.type == "fault.verify"]) == faults,
                   timeout=180, what=f"all {faults} faults injected")
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    return journal


def test_sigkill_then_heal_leaves_no_fault_behind(cluster, tmp_path):
    sigkill_then_heal(cluster, tmp_path)


def sigkill_then_heal(cluster, tmp_path):
    """Kill a run holding four faults with SIGKILL; audit must list each trace and `heal` must undo them all."""
    reports = tmp_path / "reports"
    journal = killed_once_faults_hold(cluster, SCENARIO, 4, tmp_path, start_timeout=120)
    run_dir = journal.parent
    assert len(HealLedger(run_dir).pending()) == 4
    assert cluster.node_states()["node3"] == "stopped"
    load_pid = next(e.get("pid") for e in read_journal(journal) if e.type == "load.start")
    assert os.path.exists(f"/proc/{load_pid}"), "the orphaned load process should still run before heal"
    found = [str(leftover) for leftover in audit(cluster.config, reports)]
    for trace in ("pending heal: port-conflict", "pending heal: node-halt", f"load process still running (pid {load_pid})",
                  "node2: firewall rule", "node2: stopped engine: dockerd", "node2: port squatter",
                  "node node3 is not running"):
        assert any(trace in line for line in found), f"audit missed {trace!r}: {found}"

    assert harness(cluster, "heal", "--reports", str(reports)).wait(timeout=300) == 0

    assert HealLedger(run_dir).pending() == []
    assert set(cluster.node_states().values()) == {"running"}
    wait_until(lambda: all(n.state == "ready" for n in cluster.engine.nodes()), timeout=120, what="nodes Ready")
    for node in cluster.state.nodes:
        assert RULE_COMMENT not in cluster.exec(node, ["iptables", "-w", "-S"]).output, node
        states = cluster.exec(node, ["sh", "-c", "for p in $(pidof dockerd containerd); do "
                                                  "awk '/^State:/ {print $2}' /proc/$p/status; done"]).output
        assert "T" not in states.split(), f"{node} still has a frozen engine"
    assert not cluster.exec("node2", ["sh", "-c", "ss -Hltn 'sport = :8081' | grep -q ."]).ok, "squatter remains"
    assert not os.path.exists(f"/proc/{load_pid}") or "locust" not in open(f"/proc/{load_pid}/cmdline").read()
    wait_until(lambda: audit(cluster.config, reports) == [], timeout=60, what="audit to find nothing left behind")
    assert harness(cluster, "audit", "--reports", str(reports)).wait(timeout=60) == 0
