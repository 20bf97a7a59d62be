"""What crashes and damage leave behind, and harness bugs, end in a message and an exit code: never a traceback.

Exit 2 for a file, directory or option the user gave that is unusable; exit 4
with one line and a crash log for an exception the harness did not expect.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.ledger import HealLedger, LedgerEntry
from harness.testing import FakeCluster, make_run_dir

HALT = LedgerEntry(id="0-node-halt", kind="node-halt", target="node2", params={"rejoin_timeout": 1})


@pytest.fixture
def home(tmp_path, monkeypatch):
    """``$CHAOS_HOME`` with one cluster's state, and a directory beside the clusters that no command may touch."""
    monkeypatch.setenv("CHAOS_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "clusters" / "chaos").mkdir(parents=True)
    (tmp_path / "home" / "clusters" / "chaos" / "cluster.json").write_text("{}")
    (tmp_path / "home" / "x").mkdir()
    (tmp_path / "home" / "x" / "keep.txt").write_text("mine")
    return tmp_path / "home"


@pytest.fixture
def cluster(monkeypatch):
    fake = FakeCluster()
    monkeypatch.setattr("harness.cli.repair.Cluster", lambda config, progress=None: fake)
    return fake


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


class Said:
    """A command's output as the user reads it: ``text in said`` holds however the console wrapped its lines."""

    def __init__(self, output: str) -> None:
        self.flat = "".join(output.split())

    def __contains__(self, text: str) -> bool:
        return "".join(text.split()) in self.flat


def ledger_with(run_dir, *tail: str):
    """A run directory whose ledger holds a halted node2 to heal, then ``tail`` written as is."""
    run_dir.mkdir(parents=True)
    HealLedger(run_dir).record(HALT)
    with (run_dir / "heal-ledger.jsonl").open("a") as file:
        file.write("".join(tail))
    return run_dir


def test_heal_skips_a_line_a_crash_cut_off_and_heals_the_rest(tmp_path, cluster):
    cluster.halt_node("node2")
    run_dir = ledger_with(tmp_path / "reports" / "run-1", '{"op": "pending", "id": "1-task-kill", "ki')
    result = invoke("heal", str(run_dir))
    assert result.exit_code == 0, result.output
    output = Said(result.output)
    assert "heal-ledger.jsonl line 2: cut off by a crash" in output and "skipped" in output
    assert "run-1: 0-node-halt healed" in output
    assert cluster.states["node2"] == "running"
    assert HealLedger(run_dir).pending() == []  # the healed record did not land on the cut-off line


@pytest.mark.parametrize("line, why", [
    ("not json at all\n", "not JSON"),
    ('{"op": "pending", "id": "1", "kind": "node-halt"}\n', "no 'target'"),
    ('{"op": "pending", "id": 7, "kind": "node-halt", "target": "node3"}\n', "'id' is not a str"),
    ('{"op": "explode", "id": "1"}\n', "op is 'explode'"),
    ("[1, 2]\n", "not a JSON object"),
])
def test_heal_reports_a_damaged_line_with_its_number_and_heals_the_rest(tmp_path, cluster, line, why):
    cluster.halt_node("node2")
    run_dir = ledger_with(tmp_path / "run-1", line, '{"op": "healed", "id": "nothing"}\n')
    result = invoke("heal", str(run_dir))
    assert result.exit_code == 0, result.output
    output = Said(result.output)
    assert "heal-ledger.jsonl line 2: damaged (" in output and why in output
    assert cluster.states["node2"] == "running"


def test_a_fault_no_plugin_can_rebuild_is_reported_and_the_others_still_healed(tmp_path, cluster):
    cluster.halt_node("node2")
    run_dir = ledger_with(tmp_path / "run-1", json.dumps({"op": "pending", "id": "1-gone", "kind": "gone-plugin",
                                                          "target": "node3"}) + "\n")
    result = invoke("heal", str(run_dir))
    assert result.exit_code == 3
    output = Said(result.output)
    assert "1-gone NOT healed: no fault plugin 'gone-plugin' is installed" in output
    assert "0-node-halt healed" in output and cluster.states["node2"] == "running"


def test_heal_leaves_a_fault_of_another_cluster_for_that_cluster(tmp_path, cluster):
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    HealLedger(run_dir).record(LedgerEntry(id="0-node-halt", kind="node-halt", target="node2", cluster="ci"))
    cluster.halt_node("node2")
    result = invoke("heal", str(run_dir))
    assert result.exit_code == 0, result.output
    assert "chaos-harness --cluster ci heal" in Said(result.output)
    assert cluster.states["node2"] == "stopped" and len(HealLedger(run_dir).pending()) == 1


def test_report_on_a_directory_that_is_no_run_names_the_missing_journal(tmp_path):
    result = invoke("report", str(tmp_path))
    assert result.exit_code == 2
    assert f"{tmp_path} is not a run directory: it has no journal.jsonl" in Said(result.output)


@pytest.mark.parametrize("file, damage, expected", [
    ("journal.jsonl", lambda lines: lines[:2] + ["{oops"] + lines[2:], "journal.jsonl line 3 is damaged (not JSON"),
    ("journal.jsonl", lambda lines: ['{"t": "noon", "type": "run.start"}'] + lines[1:],
     "journal.jsonl line 1 is damaged (an event needs a number t"),
    ("journal.jsonl", lambda lines: lines[1:], "journal.jsonl does not describe a run this harness can analyse "
                                               "(the journal has no run.start event)"),
    ("samples.jsonl", lambda lines: lines[:5] + ['{"t": 1, "end": 2, "ok": "yes"}'] + lines[5:],
     "samples.jsonl line 6 is damaged (ok is 'yes')"),
    ("samples.jsonl", lambda lines: lines[:5] + ['{"t": 1, "end": 2, "ok": true, "colour": "red"}'] + lines[5:],
     "samples.jsonl line 6 is damaged (Sample.__new__() got an unexpected keyword argument 'colour')"),
])
def test_report_on_a_damaged_run_directory_names_the_file_and_line(tmp_path, file, damage, expected):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    path = run_dir / file
    path.write_text("\n".join(damage(path.read_text().splitlines())) + "\n")
    result = invoke("report", str(run_dir))
    assert result.exit_code == 2, result.output
    assert f"{run_dir}/{expected}" in Said(result.output)
    assert not (run_dir / "report.json").exists()


def test_report_skips_a_last_line_a_crash_cut_off_and_says_so(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    for name in ("journal.jsonl", "samples.jsonl"):
        with (run_dir / name).open("a") as file:
            file.write('{"t": 30, "ty')
    result = invoke("report", str(run_dir))
    assert result.exit_code == 0, result.output
    output = Said(result.output)
    assert "journal.jsonl line 21: cut off by a crash, skipped" in output
    assert "samples.jsonl line 202: cut off by a crash, skipped" in output
    assert json.loads((run_dir / "report.json").read_text())["downtime"] == pytest.approx(1.0)


@pytest.mark.parametrize("text, expected", [
    ("{\n  \"run_id\": ", "report.json: the report is not readable JSON (not JSON: Expecting value at line 2 column 13)"),
    ("[1, 2]", "report.json is not a chaos-harness report: it holds a JSON list"),
    ('{"run_id": "r"}', "report.json is not a chaos-harness report: scenario.name should be a string, it has none"),
])
def test_compare_on_a_broken_report_names_the_file(tmp_path, text, expected):
    good = make_run_dir(tmp_path, "good", "in-service", outage=1.0)
    broken = make_run_dir(tmp_path, "broken", "in-service", outage=1.0)
    (broken / "report.json").write_text(text)
    result = invoke("compare", str(good), str(broken))
    assert result.exit_code == 2, result.output
    output = Said(result.output)
    assert f"{broken}/{expected}" in output
    assert f"`chaos-harness report {broken}` writes it again from journal.jsonl" in output


@st.composite
def letters_changed(draw, data: bytes) -> bytes:
    """``data`` with a few letters or digits changed: still JSON lines, with other keys and values."""
    data = bytearray(data)
    spots = [i for i, byte in enumerate(data) if chr(byte).isalnum()]
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.sampled_from(spots))] = ord(draw(st.sampled_from("abcxyz0129")))
    return bytes(data)


def test_report_on_a_run_directory_with_changed_values_never_breaks(tmp_path_factory, monkeypatch):
    """Exit 0, 1 or 2 for any of them (2 naming journal.jsonl or samples.jsonl), never 4."""
    root = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("CHAOS_HOME", str(root / "home"))
    good = make_run_dir(root, "good", "in-service", outage=1.0)
    journal, samples = (good / "journal.jsonl").read_bytes(), (good / "samples.jsonl").read_bytes()

    @settings(max_examples=int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200")) // 4, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(letters_changed(journal), st.one_of(letters_changed(samples), st.just(samples)))
    def report(journal_bytes: bytes, samples_bytes: bytes) -> None:
        run_dir = Path(tempfile.mkdtemp(dir=root))
        (run_dir / "journal.jsonl").write_bytes(journal_bytes)
        (run_dir / "samples.jsonl").write_bytes(samples_bytes)
        result = invoke("--quiet", "report", str(run_dir))
        assert result.exit_code in (0, 1, 2), result.output
        if result.exit_code == 2:
            said = Said(result.output)
            assert f"{run_dir}/journal.jsonl" in said or f"{run_dir}/samples.jsonl" in said

    report()


def test_compare_names_a_figure_of_the_wrong_type(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    assert invoke("report", str(run_dir)).exit_code == 0
    report = json.loads((run_dir / "report.json").read_text())
    (run_dir / "report.json").write_text(json.dumps({**report, "downtime": "a while"}))
    result = invoke("compare", str(run_dir))
    assert result.exit_code == 2
    assert "downtime should be a number or null, it is 'a while'" in Said(result.output)


def broken_plugins():
    raise RuntimeError("the registry\nfell over")


def broken_config(**kwargs):
    raise LookupError("no such thing")


@pytest.mark.parametrize("target, replacement, args, message", [
    ("harness.faults.registry.available", broken_plugins, ["faults", "list"], "RuntimeError: the registry fell over"),
    ("harness.cli.ClusterConfig", broken_config, ["faults", "list"], "LookupError: no such thing"),
])
def test_an_unexpected_exception_is_exit_4_with_one_line_and_the_traceback_in_a_log(home, monkeypatch, target,
                                                                                   replacement, args, message):
    monkeypatch.setattr(target, replacement)
    result = invoke(*args)
    assert result.exit_code == 4
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: the harness broke: {message} — traceback in {home / 'crashes'}/crash-")
    log = (home / "crashes").glob("crash-*.log")
    (text,) = [path.read_text() for path in log]
    assert "Traceback (most recent call last)" in text and message.split(": ")[0] in text
    assert str(next((home / "crashes").iterdir())) == line.rsplit(" ", 1)[1]


def test_a_closed_pipe_is_no_crash(home, monkeypatch):
    """``chaos-harness faults list | head``: click's quiet exit, no crash log."""
    def closed(*args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("harness.faults.registry.available", closed)
    result = invoke("faults", "list")
    assert result.exit_code == 1 and "harness broke" not in result.output
    assert not (home / "crashes").exists()


def test_ctrl_c_outside_a_run_is_exit_130(monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr("harness.faults.registry.available", interrupted)
    result = invoke("faults", "list")
    assert result.exit_code == 130 and "interrupted" in result.output


BAD_NAMES = ["../x", "", "a b", "a/b", "Chaos", "a" * 5000]


@pytest.mark.parametrize("name", BAD_NAMES, ids=["dotdot", "empty", "space", "slash", "upper", "5000-chars"])
@pytest.mark.parametrize("command", [["validate", "clean-upgrade"], ["down"], ["cluster", "down"],
                                     ["heal", "--reports", "nowhere"]])
def test_a_cluster_name_that_is_no_plain_name_is_exit_2_and_nothing_is_touched(home, monkeypatch, name, command):
    def no_cluster(*args, **kwargs):
        raise AssertionError("no cluster may be made for a refused name")

    for commands in ("cluster", "repair", "runs"):
        monkeypatch.setattr(f"harness.cli.{commands}.Cluster", no_cluster)
    result = invoke("--cluster", name, *command)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--cluster'" in result.output and "is not allowed" in result.output
    assert len(result.output) < 500
    assert (home / "x" / "keep.txt").read_text() == "mine"
    assert (home / "clusters" / "chaos" / "cluster.json").exists()


def test_the_pytest_plugin_refuses_a_cluster_name_that_is_no_plain_name(pytester):
    result = pytester.runpytest("--chaos-cluster", "../x", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-cluster: cluster name '../x' is not allowed*"])
