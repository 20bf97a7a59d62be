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
from harness.compare import compare, load_reports
from harness.report import write_comparison, write_run_reports
from harness.report.charts import DOWNTIME_COLOUR, OUTCOME_COLOURS, VERSION_COLOURS
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


def test_compare_html_renders_its_table_and_strips_in_chromium(tmp_path):
    runs = [make_run_dir(tmp_path, f"{strategy}-{i}", strategy, outage=i)
            for strategy in ("in-service", "blue-green") for i in (0, 1, 2)]
    directory = tmp_path / "cmp"
    write_comparison(directory, compare(load_reports(runs)), runs)
    url = (directory / "compare.html").as_uri()

    dom = chromium("--dump-dom", url)
    assert dom.count('<tr class="cell">') == 2
    assert dom.count('<circle class="repeat"') == 6

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "compare.png"
    chromium("--window-size=1300,400", f"--screenshot={screenshot}", url)
    assert has_colour(Image.open(screenshot).convert("RGB"), (228, 87, 86), tolerance=10, at_least=20), \
        "no repeat dots were painted"


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
