"""What `audit` finds in run directories: pending heals of its cluster, and nothing of others."""

from __future__ import annotations

from harness.audit import Leftover, run_leftovers
from harness.ledger import HealLedger, LedgerEntry


def test_pending_heals_of_the_cluster_are_leftovers_and_healed_ones_are_not(tmp_path):
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    ledger = HealLedger(run_dir)
    ledger.record(LedgerEntry("f1", "daemon-freeze", "node2", cluster="chaos"))
    ledger.record(LedgerEntry("f2", "partition", "node3", cluster="chaos"))
    ledger.record(LedgerEntry("f3", "disk-full", "node1", cluster="other"))
    ledger.mark_healed("f2")
    assert run_leftovers(tmp_path, "chaos") == [Leftover("run-1", "pending heal: daemon-freeze on node2 (id f1)")]
    assert [str(x) for x in run_leftovers(tmp_path, "other")] == ["run-1: pending heal: disk-full on node1 (id f3)"]


def test_a_run_whose_load_stopped_leaves_no_load_behind(tmp_path):
    run_dir = tmp_path / "run-2"
    run_dir.mkdir()
    (run_dir / "journal.jsonl").write_text('{"t": 1, "type": "load.start", "pid": 1}\n'
                                           '{"t": 2, "type": "load.stop"}\n')
    assert run_leftovers(tmp_path, "chaos") == []
    (run_dir / "journal.jsonl").write_text('{"t": 1, "type": "load.start", "pid": 1}\n')  # pid 1 is not Locust
    assert run_leftovers(tmp_path, "chaos") == []


def test_a_damaged_journal_or_one_without_a_pid_is_no_load_left_behind_and_no_crash(tmp_path):
    for number, journal in enumerate(['{"t": 1, "type": "load.start"}\n',  # no pid
                                      '{"t": 1, "type": "load.start", "pid": "12"}\n',
                                      'not json\n{"t": 1, "type": "load.start", "pid": 1}\n',
                                      '{"type": "load.start", "pid": 1}\n']):  # no time
        run_dir = tmp_path / f"run-{number}"
        run_dir.mkdir()
        (run_dir / "journal.jsonl").write_text(journal)
    assert run_leftovers(tmp_path, "chaos") == []


def test_a_live_load_process_of_a_crashed_run_is_found(tmp_path, monkeypatch):
    from harness.load import runner

    run_dir = tmp_path / "run-live"
    run_dir.mkdir()
    (run_dir / "journal.jsonl").write_text('{"t": 1, "type": "load.start", "pid": 4242}\n')
    monkeypatch.setattr(runner, "_is_our_locust", lambda pid: pid == 4242)
    assert [str(x) for x in run_leftovers(tmp_path, "chaos")] == ["run-live: load process still running (pid 4242)"]
