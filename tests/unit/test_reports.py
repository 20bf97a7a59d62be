"""Per-run and comparison reports rendered from fixture run directories: HTML, JUnit, Markdown."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from click.testing import CliRunner

from harness.analysis import analyze_run_dir
from harness.cli import main
from harness.compare import compare
from harness.report.rundir import load_reports
from harness.report import COMPARE_FILES, RUN_FILES, charts, write_comparison, write_run_reports
from harness.testing import make_run_dir

EXPECT = {"max_downtime": 1.0, "max_lost_writes": 0}


def rendered(tmp_path, outage=2.0, **kwargs):
    run_dir = make_run_dir(tmp_path, "r1", "in-service", outage=outage, expect=EXPECT, **kwargs)
    write_run_reports(run_dir, analyze_run_dir(run_dir))
    return run_dir


def test_junit_has_one_testcase_per_expectation_and_the_failure_says_measured_and_expected(tmp_path):
    suite = ET.parse(rendered(tmp_path) / "junit.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["max_downtime", "max_lost_writes", "run_completed"]
    assert suite.get("failures") == "1" and suite.get("errors") == "0"
    failure = cases["max_downtime"].find("failure")
    assert failure.get("message") == "measured 2.000s, expected <= 1s"
    assert cases["max_lost_writes"].find("failure") is None


def test_summary_md_leads_with_the_result_and_lists_every_expectation(tmp_path):
    text = (rendered(tmp_path) / "summary.md").read_text()
    assert text.startswith("### sc under in-service: FAILED (an expectation not met)")
    assert "| max_downtime | <= 1s | 2.000s | **FAIL** |" in text
    assert "| max_lost_writes | <= 0 | 0 | pass |" in text
    assert "| downtime | 2.000s in 1 outage(s), longest 2.000s |" in text
    assert "| app | demo: v1 -> v2 |" in text
    assert "| versions | v1 141, v2 40, mixed window" in text  # attributed from the servers that answered
    assert "| writes | 1 acknowledged: 1 present, 0 absent, 0 unverifiable |" in text


def test_an_app_without_a_write_probe_has_no_lost_writes_verdict_and_says_not_measured(tmp_path):
    run_dir = make_run_dir(tmp_path, "r1", "in-service", outage=0.0, expect=EXPECT, writes=False)
    write_run_reports(run_dir, analyze_run_dir(run_dir))
    report = json.loads((run_dir / "report.json").read_text())
    assert report["writes"]["measured"] is False and report["writes"]["lost"] is None
    assert [v["name"] for v in report["verdicts"]] == ["max_downtime"]
    assert report["passed"] is True
    assert "| writes | not measured" in (run_dir / "summary.md").read_text()
    cases = [case.get("name") for case in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")]
    assert "max_lost_writes" not in cases


def test_report_html_is_self_contained_with_three_charts_spans_and_markers(tmp_path):
    page = (rendered(tmp_path, rollback_seconds=0.5) / "report.html").read_text()
    assert re.findall(r'data-chart="(\w+)"', page) == ["rate", "latency", "versions"]
    assert page.count('class="span fault"') == 3  # the node-halt fault, once per chart
    assert page.count('class="span phase"') == 3 * 2  # upgrade and observe
    for label in ("upgrade requested", "engine: updating", "engine: completed", "rollback requested",
                  "switched back", "settled: rolled_back"):
        assert page.count(f">{label}</text>") == 3, label
    assert "node-halt on node2" in page
    assert not re.search(r"<script|<link|src=|url\(|https?://", page), "the page must need no network"
    assert page.count('<tr class="verdict">') == 2


def test_the_report_command_re_renders_every_file(tmp_path):
    run_dir = make_run_dir(tmp_path, "r1", "blue-green", outage=0.0, expect=EXPECT)
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert all((run_dir / name).stat().st_size > 0 for name in RUN_FILES)


def test_compare_html_draws_one_dot_per_repeat_and_measured_figure(tmp_path):
    runs = [make_run_dir(tmp_path, f"a{i}", "in-service", outage=i) for i in (1, 2, 3)]
    files = write_comparison(tmp_path / "cmp", compare(load_reports(runs)), runs)
    assert [f.name for f in files] == list(COMPARE_FILES)
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert page.count('<circle class="repeat"') == 6  # downtime and longest outage; no rollback to time
    assert "<title>in-service, repeat 3: 3.000 s</title>" in page
    assert "| sc@demo | in-service | swarm | 3 | passed | 2s [1-3] |" in (tmp_path / "cmp" / "compare.md").read_text()


def legend(svg: str) -> dict[str, str]:
    """Release -> the colour its legend entry shows."""
    return {label: fill for fill, label in re.findall(r'fill="(#\w+)"/><text [^>]*class="legend">([^<]+)<', svg)}


def test_the_version_chart_colours_releases_by_their_role_whatever_their_names():
    timeline = [{"second": 0, "requests": 3, "failures": 0, "p50": 0.01, "p99": 0.01,
                 "versions": {"1.0": 1, "1.1": 1, "0.9": 1}}]
    colours = legend(charts.version_chart(timeline, 1, charts.Overlays([], []), old="1.0", new="1.1"))
    assert colours == {"1.0": charts.VERSION_COLOURS["old"], "1.1": charts.VERSION_COLOURS["new"],
                       "0.9": charts.OTHER_COLOUR}
    broken = [{**timeline[0], "versions": {"1.0": 2, "broken": 1}}]
    colours = legend(charts.version_chart(broken, 1, charts.Overlays([], []), old="1.0", new="broken"))
    assert colours == {"1.0": charts.VERSION_COLOURS["old"], "broken": charts.VERSION_COLOURS["broken"]}
    assert len(set(charts.VERSION_COLOURS.values()) | {charts.OTHER_COLOUR}) == 4


def test_the_summary_warns_when_the_stack_failed_before_the_upgrade(tmp_path):
    from harness.report.text import summary_rows

    report = analyze_run_dir(make_run_dir(tmp_path, "run-1", "in-service", 2.0))
    healthy = dict(summary_rows(report))
    report["phases"]["warmup"] = {**next(iter(report["phases"].values())), "availability": 0.42}
    sick = dict(summary_rows(report))
    assert "before the upgrade" not in healthy
    assert sick["before the upgrade"].startswith("only 42.0% of warmup requests succeeded")


def test_writes_lost_and_unreadable_during_the_run_show_in_the_html_and_markdown(tmp_path):
    run_dir = make_run_dir(tmp_path, "r1", "in-service", outage=0.0, expect=EXPECT)
    (run_dir / "readback.jsonl").write_text(json.dumps(
        {"write_id": "w1", "captured": {}, "outcome": "absent", "status": 404, "reason": "status 404", "body": ""}) + "\n")
    reads = [("present", 2), ("absent", 6), ("unverifiable", 7), ("present", 9)]
    (run_dir / "rereads.jsonl").write_text("".join(json.dumps(
        {"t": t, "end": t + 0.01, "write_id": "w1", "outcome": outcome, "status": 200, "reason": None}) + "\n"
        for outcome, t in reads))
    write_run_reports(run_dir, analyze_run_dir(run_dir))
    page, summary = (run_dir / "report.html").read_text(), (run_dir / "summary.md").read_text()
    assert page.count('class="span missing"') == 3  # one window (6 s to 9 s), once per chart
    assert "acknowledged writes unreadable for 3.0s (2 reads)" in page
    assert "<li>lost: w1 (readback.jsonl has each answer)</li>" in page
    assert "- lost: w1 (readback.jsonl has each answer)" in summary
    assert "| writes | 1 acknowledged: 0 present, 1 absent, 0 unverifiable |" in summary
    assert "4 reads of acknowledged writes, 2 missing in 1 window(s), longest 3.000s" in summary
