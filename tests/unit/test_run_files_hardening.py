"""Run and sweep directories as hostile input: every file read is a bounded regular file, every file written
is never written through a link, and sweep.json is read through a model. Exit 2 naming the file, never 4, never
a hang."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import UsageError
from harness.files import MAX_LINE_BYTES, create_text, open_append, write_text
from harness.journal import Journal
from harness.ledger import HealLedger, LedgerEntry
from harness.testing import FakeCluster, make_run_dir

SHIPPED_SWEEP = Path(__file__).parents[2] / "docs" / "sweeps" / "halted-node" / "sweep.json"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAOS_HOME", str(tmp_path / "home"))


@pytest.fixture
def cluster(monkeypatch):
    fake = FakeCluster()
    monkeypatch.setattr("harness.cli.repair.Cluster", lambda config, progress=None: fake)
    return fake


class Said:
    """A command's output as the user reads it: ``text in said`` holds however the console wrapped its lines."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.flat = "".join(output.split())

    def __contains__(self, text: str) -> bool:
        return "".join(text.split()) in self.flat

    def __repr__(self) -> str:
        return self.output


def invoke(*args: str, seconds: float = 20) -> tuple[int, Said]:
    """Exit code and output of the command, run in a thread: a read that blocks fails the test instead of hanging."""
    results = []
    thread = threading.Thread(target=lambda: results.append(CliRunner().invoke(main, list(args))), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"`chaos-harness {' '.join(args)}` hung"
    return results[0].exit_code, Said(results[0].output)


def replaced(run_dir: Path, name: str, kind: str) -> Path:
    """``run_dir/name`` made a FIFO, a link to /dev/zero, or a regular file with one line longer than a line may be."""
    path = run_dir / name
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b'{"t": 1, "type": "' + b"x" * MAX_LINE_BYTES + b'"}\n')
    return path


@needs_fifo
@pytest.mark.parametrize("kind, said", [("fifo", "must be a regular file, not a named pipe (FIFO)"),
                                        ("zero", "must be a regular file, not a character device")])
def test_samples_that_are_no_regular_file_are_exit_2_at_once(tmp_path, kind, said):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    replaced(run_dir, "samples.jsonl", kind)
    code, output = invoke("report", str(run_dir))
    assert code == 2 and f"{run_dir / 'samples.jsonl'}: the run file {said}" in output


def test_a_line_longer_than_any_the_harness_writes_is_damage(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    replaced(run_dir, "journal.jsonl", "long")
    code, output = invoke("report", str(run_dir))
    assert code == 2 and f"{run_dir / 'journal.jsonl'} line 1 is damaged (longer than 1 MiB" in output


@needs_fifo
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_heal_ledger_that_is_no_regular_file_is_exit_2_and_the_others_are_healed(tmp_path, cluster, kind):
    reports = tmp_path / "reports"
    good, bad = reports / "a-good", reports / "b-bad"
    good.mkdir(parents=True)
    bad.mkdir()
    HealLedger(good).record(LedgerEntry(id="0-node-halt", kind="node-halt", target="node2",
                                        params={"rejoin_timeout": 1}))
    cluster.halt_node("node2")
    replaced(bad, "heal-ledger.jsonl", kind)
    code, output = invoke("heal", "--reports", str(reports))
    assert code == 2 and "heal ledgers that cannot be read, so what they list is NOT healed" in output
    assert f"{bad / 'heal-ledger.jsonl'}: the heal ledger must be a regular file" in output
    assert "a-good: 0-node-halt healed" in output and cluster.states["node2"] == "running"


def test_heal_on_a_reports_directory_that_does_not_exist_says_so(tmp_path, cluster):
    code, output = invoke("heal", "--reports", str(tmp_path / "nowhere"))
    assert code == 2 and f"--reports {tmp_path / 'nowhere'}: no such directory" in output
    assert "nothing left to heal" not in output


def test_a_report_json_that_is_a_link_is_refused_and_its_target_untouched(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    (tmp_path / "victim").write_text("keep")
    (run_dir / "report.json").symlink_to(tmp_path / "victim")
    code, output = invoke("report", str(run_dir))
    assert code == 2 and f"{run_dir / 'report.json'} cannot be written: it is a symbolic link to" in output
    assert (tmp_path / "victim").read_text() == "keep"


def test_compare_output_through_a_link_is_refused(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "compare.json").symlink_to(tmp_path / "victim")
    code, output = invoke("compare", str(run_dir), "--output", str(out))
    assert code == 2 and "compare.json cannot be written: it is a symbolic link" in output
    assert not (tmp_path / "victim").exists()


def test_a_rewritten_file_replaces_a_hard_link_instead_of_writing_through_it(tmp_path):
    (tmp_path / "other").write_text("keep")
    os.link(tmp_path / "other", tmp_path / "report.json")
    write_text(tmp_path / "report.json", "new")
    assert (tmp_path / "report.json").read_text() == "new" and (tmp_path / "other").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_appends_and_new_files_refuse_links(tmp_path):
    (tmp_path / "journal.jsonl").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "heal-ledger.jsonl").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="symbolic link"):
        Journal(tmp_path / "journal.jsonl")
    with pytest.raises(UsageError, match="symbolic link"):
        HealLedger(tmp_path).record(LedgerEntry(id="0", kind="node-halt", target="node2"))
    with pytest.raises(UsageError, match="exists as a symbolic link"):
        create_text(tmp_path / "journal.jsonl", "x")
    with pytest.raises(UsageError, match="it is a directory, not a regular file"):
        open_append(tmp_path)
    os.mkfifo(tmp_path / "samples.jsonl")
    with pytest.raises(UsageError, match=r"it is a named pipe \(FIFO\), not a regular file"):
        open_append(tmp_path / "samples.jsonl")
    assert not (tmp_path / "elsewhere").exists()


def sweep_dir(tmp_path: Path, change) -> Path:
    document = json.loads(SHIPPED_SWEEP.read_text())
    change(document)
    directory = tmp_path / "sweep"
    directory.mkdir()
    (directory / "sweep.json").write_text(json.dumps(document))
    return directory


def drop(key: str):
    return lambda document: document.pop(key)


def first_point(change):
    return lambda document: change(document["strategies"]["in-service"]["points"][0])


def first_run(change):
    return first_point(lambda point: change(point["runs"][0]))


@pytest.mark.parametrize("change, said", [
    (drop("strategies"), "strategies: got nothing: this key is required"),
    (lambda d: d.update(strategies=[]), "strategies: got []: Input should be a valid dictionary"),
    (lambda d: d.update(strategies={"canary": {"points": []}}), "strategies.canary.[key]: got 'canary'"),
    (first_point(lambda p: p.update(at="x")), "strategies.in-service.points.0.at: got 'x'"),
    (first_point(lambda p: p.update(runs=None)), "strategies.in-service.points.0.runs: got None: Input should be "
                                                  "a valid list"),
    (first_run(lambda r: r.update(run_dir="../../etc")), "strategies.in-service.points.0.runs.0.run_dir: got "
                                                         "'../../etc': Value error, the name of a run directory"),
    (first_run(lambda r: r.update(repeat="1")), "strategies.in-service.points.0.runs.0.repeat: got '1': Input "
                                                "should be a valid integer"),
    (lambda d: d.update(fault={"kind": 5}), "fault.kind: got 5: Input should be a valid string"),
    (lambda d: d.update(schema="chaos-harness/sweep@9"), "schema: got 'chaos-harness/sweep@9'"),
])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_sweep_file_with_missing_or_wrong_keys_is_exit_2_naming_the_key(tmp_path, change, said, command):
    directory = sweep_dir(tmp_path, change)
    code, output = invoke(command, str(directory))
    assert code == 2, output
    assert f"{directory / 'sweep.json'}: invalid sweep file" in output and said in output


@needs_fifo
@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_sweep_file_that_is_a_fifo_is_refused_as_one(tmp_path, command):
    directory = tmp_path / "sweep"
    directory.mkdir()
    os.mkfifo(directory / "sweep.json")
    code, output = invoke(command, str(directory))
    assert code == 2 and "sweep.json: the sweep file must be a regular file, not a named pipe (FIFO)" in output
