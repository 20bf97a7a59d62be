"""The harness's own cost per run: phase and step durations, wall time and overhead, read from the journal."""

from __future__ import annotations

import json

import pytest

from harness.analysis import analyze_run_dir
from harness.analysis.timings import timings
from harness.journal import JOURNAL_FILE, Event, Journal, read_journal
from harness.report import TIMED_FILES, write_run_reports
from harness.report.terminal import summary_table
from harness.runner import _report, _step
from harness.testing import make_run_dir


def ev(t: float, type: str, **data) -> Event:
    return Event(t, type, data)


def span(kind: str, name: str, start: float, end: float) -> list[Event]:
    return [ev(start, f"{kind}.start", **{kind: name}), ev(end, f"{kind}.end", **{kind: name})]


def journal(*spans: list[Event], end: float = 200.0) -> list[Event]:
    """A run from t=100: run.start, the spans in order, run.end at ``end``."""
    return [ev(100, "run.start"), *[e for s in spans for e in s], ev(end, "run.end", status="completed")]


A_RUN = journal(span("phase", "prepare", 100, 112), span("phase", "warmup", 112.5, 122.5),
                span("phase", "upgrade", 122.5, 150), span("phase", "observe", 150, 170),
                span("step", "heal", 171, 171.5), span("step", "read_back", 172, 176), span("step", "logs", 176, 177),
                end=177)


def test_each_phase_and_step_lasts_from_its_start_to_its_end():
    spent = timings(A_RUN)
    assert spent["prepare"] == 12
    assert spent["phases"] == {"warmup": 10, "upgrade": 27.5, "observe": 20}
    assert (spent["heal"], spent["read_back"], spent["logs"]) == (0.5, 4, 1)
    assert spent["analysis"] is None and spent["rendering"] is None  # not journalled yet at run.end


def test_overhead_is_wall_time_minus_the_phases_the_scenario_asked_for():
    spent = timings(A_RUN)
    assert spent["wall"] == 77
    assert spent["overhead"] == pytest.approx(77 - 57.5)  # prepare, the steps and the gaps between them


def test_analysis_and_rendering_after_run_end_count_and_wall_runs_to_the_last_event():
    spent = timings(A_RUN + span("step", "analysis", 177.5, 179) + span("step", "rendering", 179, 179.25))
    assert (spent["analysis"], spent["rendering"]) == (1.5, 0.25)
    assert spent["wall"] == 79.25
    assert spent["overhead"] == pytest.approx(79.25 - 57.5)


def test_a_rollback_phase_is_a_phase_the_scenario_asked_for():
    spent = timings(journal(span("phase", "upgrade", 100, 110), span("phase", "rollback", 110, 125),
                            span("phase", "observe", 125, 130), end=131))
    assert spent["phases"] == {"upgrade": 10, "rollback": 15, "observe": 5}
    assert spent["overhead"] == pytest.approx(1)


def test_a_phase_cut_short_by_a_failure_lasts_until_the_next_step_starts():
    events = journal(span("phase", "warmup", 100, 110), [ev(110, "phase.start", phase="upgrade")],
                     [ev(115, "run.error", error="boom")], span("step", "heal", 116, 117), end=118)
    spent = timings(events)
    assert spent["phases"] == {"warmup": 10, "upgrade": 6}
    assert spent["heal"] == 1 and spent["wall"] == 18 and spent["overhead"] == pytest.approx(2)
    assert spent["prepare"] is None and spent["logs"] is None


def test_a_step_the_journal_ends_in_lasts_until_its_last_event():
    events = journal(span("phase", "observe", 100, 110), end=111) + [ev(112, "step.start", step="analysis"),
                                                                    ev(115, "engine.task", state="running")]
    assert timings(events)["analysis"] == 3


def test_a_journal_from_before_the_steps_still_times_its_phases(tmp_path):
    report = analyze_run_dir(make_run_dir(tmp_path, "r", "in-service", outage=1.0))
    assert report["timings"] == {"prepare": None, "phases": {"upgrade": 10, "observe": 9}, "heal": None,
                                 "read_back": None, "logs": None, "analysis": None, "rendering": None,
                                 "wall": 21, "overhead": 2}


def test_a_step_is_journalled_even_when_it_fails(tmp_path):
    journal_file = Journal(tmp_path / JOURNAL_FILE)
    with pytest.raises(RuntimeError), _step(journal_file, "heal"):
        raise RuntimeError("a heal broke")
    journal_file.close()
    assert [(e.type, e.get("step")) for e in read_journal(tmp_path / JOURNAL_FILE)] == [
        ("step.start", "heal"), ("step.end", "heal")]


def test_the_runner_times_analysis_and_rendering_into_report_json_and_summary_md(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    report = _report(run_dir, Journal(run_dir / JOURNAL_FILE))
    written = json.loads((run_dir / "report.json").read_text())
    assert written["timings"] == report["timings"]
    assert written["timings"]["analysis"] > 0 and written["timings"]["rendering"] > 0
    assert written == json.loads(json.dumps(analyze_run_dir(run_dir)))  # a re-analysis tells the same
    assert "| harness cost | overhead " in (run_dir / "summary.md").read_text()


def test_only_the_reports_named_are_written(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=1.0)
    written = write_run_reports(run_dir, analyze_run_dir(run_dir), names=TIMED_FILES)
    assert [p.name for p in written] == ["report.json", "summary.md"]
    assert not (run_dir / "report.html").exists() and not (run_dir / "junit.xml").exists()


def test_the_summaries_show_the_cost_in_one_line(tmp_path):
    report = analyze_run_dir(make_run_dir(tmp_path, "r", "in-service", outage=1.0))
    report["timings"] = timings(A_RUN + span("step", "analysis", 177.5, 179) + span("step", "rendering", 179, 180))
    line = ("overhead 22.5s of 80.0s wall: prepare 12.0s, heal 0.5s, read-back 4.0s, logs 1.0s, analysis 1.5s, "
            "rendering 1.0s; phases: warmup 10.0s, upgrade 27.5s, observe 20.0s")
    labels, texts = (list(column.cells) for column in summary_table(report).columns)
    assert ("harness cost", line) in zip(labels, texts)
    write_run_reports(tmp_path / "r", report, names=("summary.md",))
    assert f"| harness cost | {line} |" in (tmp_path / "r" / "summary.md").read_text()
