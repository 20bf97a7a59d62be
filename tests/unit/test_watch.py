"""The engine watcher journals what changed between two looks at the engine."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from harness.engine.base import ServiceSnapshot, TaskInfo
from harness.journal import Journal, read_journal
from harness.watch import EngineWatcher


def test_a_task_marked_for_shutdown_is_journalled_though_its_state_is_unchanged(tmp_path):
    """An eviction marks a pod for deletion while its state stays as its kubelet last said: that is news."""
    task = TaskInfo(id="t1", slot=1, node="node2", image="registry:5000/chaos/web:v1", desired_state="running",
                    state="running", error="")
    snapshot = ServiceSnapshot("chaos_web", "registry:5000/chaos/web:v1", 3, None, "", None, (task,))
    looks = iter([snapshot, snapshot, replace(snapshot, tasks=(replace(task, desired_state="shutdown"),))])
    engine = SimpleNamespace(nodes=lambda: [], service=lambda name: next(looks))
    journal = Journal(tmp_path / "journal.jsonl")
    watcher = EngineWatcher(engine, journal, ("chaos_web",))
    for _ in range(3):
        watcher.poll()
    journal.close()
    tasks = [e for e in read_journal(tmp_path / "journal.jsonl") if e.type == "engine.task"]
    assert [e.get("desired") for e in tasks] == ["running", "shutdown"]
