"""report.html, compare.html and sweep.html in a real browser: Debian's Chromium, headless.

The DOM Chromium built must hold the charts, spans and markers, and its
screenshot must show them in their colours. Screenshots are kept in
test-artifacts/ for people (and CI) to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from harness.analysis import analyze_run_dir
from harness.compare import compare
from harness.report.rundir import load_reports
from harness.report import write_comparison, write_run_reports
from harness.report.charts import DOWNTIME_COLOUR, OUTCOME_COLOURS, ROLLBACK_COLOURS, STRATEGY_COLOURS, VERSION_COLOURS
from harness.sweep.fold import SweepEntry, fold
from harness.sweep.run import write_sweep
from harness.testing import make_run_dir

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAULT_TINT = (240, 217, 217)  # the fault span's red at 16 % over the phase background


def chromium(*args: str) -> str:
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def has_colour(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 6, at_least: int = 50) -> bool:
    near = sum(count for count, pixel in image.getcolors(maxcolors=1 << 20)
               if all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb)))
    return near >= at_least


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def test_report_html_renders_its_charts_and_markers_in_chromium(tmp_path):
    run_dir = make_run_dir(tmp_path, "r1", "in-service", outage=2.0, rollback_seconds=0.5,
                           expect={"max_downtime": 1.0})
    write_run_reports(run_dir, analyze_run_dir(run_dir))
    url = (run_dir / "report.html").as_uri()

    dom = chromium("--dump-dom", url)
    assert re.findall(r'<svg class="chart" data-chart="(\w+)"', dom) == ["rate", "latency", "versions"]
    assert dom.count('<g class="marker">') == 3 * 6
    assert dom.count('<g class="span fault">') == 3
    assert ">FAIL</td>" in dom

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    chromium("--window-size=1100,1500", f"--screenshot={screenshot}", url)
    image = Image.open(screenshot).convert("RGB")
    assert has_colour(image, hex_rgb(VERSION_COLOURS["old"])), "no bars or lines of the old release were painted"
    assert has_colour(image, hex_rgb(VERSION_COLOURS["new"])), "no bars of the new release were painted"
    assert has_colour(image, FAULT_TINT, at_least=2000), "the fault span was not painted"


def test_compare_html_draws_each_scenarios_strategies_side_by_side_with_badges_in_chromium(tmp_path):
    runs = [make_run_dir(tmp_path, "in-service-1", "in-service", outage=0.1, rollback_seconds=2.0),
            make_run_dir(tmp_path, "in-service-2", "in-service", outage=2.0),
            make_run_dir(tmp_path, "in-service-3", "in-service", outage=1.0),
            make_run_dir(tmp_path, "blue-green-1", "blue-green", outage=0.0, rollback_seconds=0.05)]
    directory = tmp_path / "cmp"
    write_comparison(directory, compare(load_reports(runs)), runs)
    url = (directory / "compare.html").as_uri()

    dom = chromium("--dump-dom", url)
    assert re.findall(r'<svg class="chart comparison" data-chart="comparison" data-scenario="([^"]+)"', dom) == \
        ["sc@demo"]
    bars = re.findall(r'<g class="bar" data-figure="([^"]+)" data-strategy="([^"]+)">(.*?)</g>', dom)
    assert [(figure, strategy) for figure, strategy, _ in bars] == [
        (figure, strategy) for figure in ("downtime", "longest outage", "time to rollback")
        for strategy in ("blue-green", "in-service")]
    downtime = {strategy: [float(x) for x in re.findall(r'class="repeat" cx="([\d.]+)"', body)]
                for figure, strategy, body in bars if figure == "downtime"}
    assert len(downtime["in-service"]) == 3 and len(downtime["blue-green"]) == 1
    assert min(downtime["in-service"]) - downtime["blue-green"][0] >= 20  # 0.1 s is not drawn where 0 s is
    assert dom.count('class="badge outcome"') == 3 and dom.count('class="badge rollback') == 3
    assert dom.count('<tr class="strategy">') == 2 and dom.count('<tr class="cell">') == 2

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "compare.png"
    chromium("--window-size=1300,900", f"--screenshot={screenshot}", url)
    image = Image.open(screenshot).convert("RGB")
    for name, colour in STRATEGY_COLOURS.items():
        assert has_colour(image, hex_rgb(colour), at_least=60), f"no {name} bars or dots were painted"
    assert has_colour(image, hex_rgb(OUTCOME_COLOURS["rolled_back"]), at_least=200), "no rolled_back badge painted"
    assert has_colour(image, hex_rgb(ROLLBACK_COLOURS["succeeded"]), at_least=200), "no rollback badge painted"


def test_sweep_html_renders_each_strategys_chart_dots_and_outcome_cells_in_chromium(tmp_path):
    entries = []
    for repeat in (1, 2):
        for strategy in ("in-service", "blue-green"):
            for index, point in enumerate(("tasks_replaced=0", "tasks_replaced=1", "tasks_replaced=2")):
                run_dir = make_run_dir(tmp_path, f"{strategy}-{point}-{repeat}", strategy, outage=index + repeat / 2,
                                       rollback_seconds=0.5 if strategy == "blue-green" and index == 2 else None)
                entries.append(SweepEntry(strategy, point, {}, repeat, run_dir.name, analyze_run_dir(run_dir)))
    header = {"scenario": "sc", "app": "demo", "fault": {"kind": "node-halt", "target": {"role": "upgraded-worker"},
                                                         "duration": 30}, "repeat": 2}
    write_sweep(tmp_path, fold(entries, header))
    url = (tmp_path / "sweep.html").as_uri()

    dom = chromium("--dump-dom", url)
    assert re.findall(r'data-chart="sweep" data-strategy="([\w-]+)"', dom) == ["in-service", "blue-green"]
    assert dom.count('class="repeat downtime"') == 12 and dom.count('class="repeat outage"') == 12
    assert dom.count('class="cell outcome"') == 12 and dom.count('class="cell rollback"') == 12
    assert dom.count("<b>Predictability</b>") == 2

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "sweep.png"
    chromium("--window-size=1200,1100", f"--screenshot={screenshot}", url)
    image = Image.open(screenshot).convert("RGB")
    assert has_colour(image, hex_rgb(DOWNTIME_COLOUR), at_least=100), "no downtime dots were painted"
    assert has_colour(image, hex_rgb(OUTCOME_COLOURS["completed"]), at_least=500), "no outcome cells were painted"
    assert has_colour(image, hex_rgb(OUTCOME_COLOURS["rolled_back"]), at_least=200), "no rolled-back cell was painted"
