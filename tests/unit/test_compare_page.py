"""compare.html: per scenario, the strategies' figures side by side on one scale, outcomes and verdicts as badges."""

from __future__ import annotations

import re

import pytest

from harness.compare import compare
from harness.report.charts import (MIN_OFFSET, OUTCOME_COLOURS, ROLLBACK_COLOURS, STRATEGY_COLOURS, SecondsAxis,
                                   nice_seconds)
from harness.report.comparison import badges, comparison_page
from harness.report.rundir import load_reports
from harness.testing import make_run_dir


def bars(page: str) -> dict[tuple[str, str], str]:
    """(figure, strategy) -> the SVG group of its bar."""
    return {(figure, strategy): body for figure, strategy, body in
            re.findall(r'<g class="bar" data-figure="([^"]+)" data-strategy="([^"]+)">(.*?)</g>', page)}


def dots(bar: str) -> list[float]:
    return [float(x) for x in re.findall(r'<circle class="repeat" cx="([\d.]+)"', bar)]


@pytest.fixture
def page(tmp_path):
    runs = [make_run_dir(tmp_path, "a1", "in-service", outage=0.1, rollback_seconds=2.0),
            make_run_dir(tmp_path, "b1", "blue-green", outage=0.0, rollback_seconds=0.05),
            make_run_dir(tmp_path, "b2", "blue-green", outage=0.0)]
    return comparison_page(compare(load_reports(runs)))


def test_a_zero_and_a_tenth_of_a_second_are_drawn_apart_and_written_out(page):
    drawn = bars(page)
    (zero,), (tenth,) = dots(drawn["downtime", "blue-green"])[:1], dots(drawn["downtime", "in-service"])
    assert tenth - zero == pytest.approx(550 * 0.1 / 2)  # pixels, on the scenario's one scale: 0 to 2 s
    assert '>0 s over 2</text>' in drawn["downtime", "blue-green"]
    assert ">0.1 s</text>" in drawn["downtime", "in-service"]


def test_every_figure_of_every_strategy_has_its_bar_on_one_scale_with_a_dot_per_repeat(page):
    drawn = bars(page)
    assert set(drawn) == {(figure, strategy) for figure in ("downtime", "longest outage", "time to rollback")
                          for strategy in ("in-service", "blue-green")}
    assert len(dots(drawn["downtime", "blue-green"])) == 2 and len(dots(drawn["time to rollback", "blue-green"])) == 1
    assert page.count('data-chart="comparison"') == 1
    ticks = re.findall(r'class="tick" text-anchor="middle">([\d.]+) s<', page)
    assert list(dict.fromkeys(ticks)) == ["0", "0.5", "1", "1.5", "2"]
    rollback = drawn["time to rollback", "in-service"]
    median = float(re.search(r'<line class="median" x1="([\d.]+)"', rollback)[1])
    assert median == pytest.approx(750)  # the plot's right end: 2 s tops the scale
    assert ">2 s</text>" in rollback and ">0.05 s</text>" in drawn["time to rollback", "blue-green"]


def test_outcomes_and_rollback_verdicts_are_coloured_badges_with_counts(page, tmp_path):
    rolled_back = OUTCOME_COLOURS["rolled_back"]
    assert f'<span class="badge outcome" style="background: {rolled_back}">rolled_back</span>' in page
    assert f'style="background: {ROLLBACK_COLOURS["none"]}">no rollback</span>' in page
    assert 'class="badge rollback light"' in page  # grey badge, dark text
    runs = [make_run_dir(tmp_path / "x", f"r{i}", "in-service", outage=1, rollback_seconds=0.5) for i in (1, 2)]
    (row,) = compare(load_reports(runs))
    assert [(b.kind, b.text, b.colour) for b in badges(row)] == [
        ("outcome", "rolled_back ×2", OUTCOME_COLOURS["rolled_back"]),
        ("rollback", "rollback succeeded ×2", ROLLBACK_COLOURS["succeeded"])]
    assert STRATEGY_COLOURS["in-service"] in comparison_page([row])


def test_a_value_above_zero_is_never_drawn_at_zero_however_long_the_scale():
    axis = SecondsAxis(50.0)
    assert axis.x(0.066) - axis.x(0) == MIN_OFFSET and axis.x(50) - axis.x(0) == 550


def test_a_figure_no_repeat_measured_says_why(tmp_path):
    runs = [make_run_dir(tmp_path, "a1", "in-service", outage=1)]
    drawn = bars(comparison_page(compare(load_reports(runs))))
    assert ">no rollback</text>" in drawn["time to rollback", "in-service"]
    assert dots(drawn["time to rollback", "in-service"]) == []


def test_the_seconds_scale_ends_on_a_round_value_fractions_too():
    assert [nice_seconds([v]) for v in (0.066, 0.1, 0.31, 1.2, 4, 37)] == [0.1, 0.1, 0.5, 2, 5, 50]
    assert nice_seconds([None, 0.0]) == 1.0
