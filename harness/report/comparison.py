"""compare.html: the page people open to choose a strategy.

Per scenario, the strategies' downtime, longest outage and time to rollback
side by side on one seconds scale (median, range and every repeat), their
upgrade outcomes and rollback verdicts as coloured badges; then every figure
of the comparison in one table.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from harness.compare import Row, Spread, origins_note
from harness.report import charts
from harness.report.html import environment
from harness.report.text import COMPARISON_COLUMNS, comparison_cells, comparison_title, result_text

LIGHT_BADGES = {charts.ROLLBACK_COLOURS["none"]}  # badge colours that need dark text
VERDICT_TEXT = {"succeeded": "rollback succeeded", "failed": "rollback FAILED", "none": "no rollback"}


@dataclass(frozen=True)
class Badge:
    """A coloured label: an outcome or a rollback verdict, and how many repeats had it."""

    kind: str  # "outcome" or "rollback"
    text: str
    colour: str

    @property
    def light(self) -> bool:
        return self.colour in LIGHT_BADGES


def comparison_page(rows: list[Row]) -> str:
    """compare.html for the comparison ``rows``."""
    strategies = dict.fromkeys(row.strategy for row in rows)
    several_engines = len({row.engine for row in rows}) > 1
    sections = [_section(scenario, [row for row in rows if row.scenario == scenario], several_engines)
                for scenario in dict.fromkeys(row.scenario for row in rows)]
    return environment.get_template("compare.html.j2").render(
        title=comparison_title(rows), note=origins_note(rows), sections=sections,
        columns=COMPARISON_COLUMNS,
        cells=[comparison_cells(row) for row in rows],
        strategy_colours={s: charts.STRATEGY_COLOURS.get(s, charts.OTHER_COLOUR) for s in strategies},
        outcome_colours=charts.OUTCOME_COLOURS, rollback_colours=charts.ROLLBACK_COLOURS)


def _section(scenario: str, rows: list[Row], engines: bool) -> tuple[str, Markup, list[tuple]]:
    """A scenario's chart and its verdict lines: strategy (and engine, when ``engines``), runs, result, badges, and
    the other figures."""
    figures = {name: [_compared(row, key, engines) for row in rows] for name, key in charts.COMPARED}
    lines = [(_label(row, engines), row.runs, result_text(row.passed, row.runs), badges(row),
              row.mixed_window.text("s"),
              row.writes_acknowledged.text(""), row.lost_writes.text(""), row.overhead.text("s", digits=1))
             for row in rows]
    return scenario, Markup(charts.comparison_chart(scenario, figures)), lines


def _compared(row: Row, key: str, engines: bool) -> charts.Compared:
    spread: Spread = getattr(row, key)
    return charts.Compared(row.strategy, spread.median, spread.low, spread.high, getattr(row, f"{key}_per_run"),
                           _missing(row, key), _label(row, engines))


def _label(row: Row, engines: bool) -> str:
    """The row's strategy, and its engine when the comparison has more than one."""
    return f"{row.strategy} on {row.engine}" if engines else row.strategy


def _missing(row: Row, key: str) -> str:
    """Why a figure has no value in any repeat."""
    if key != "time_to_rollback":
        return "not measured"
    return "no rollback" if not row.rollbacks_triggered else "no rollback succeeded"


def badges(row: Row) -> list[Badge]:
    """The row's upgrade outcomes, then its rollback verdicts, each with its count over the repeats."""
    outcomes = [Badge("outcome", _counted(name, count), charts.OUTCOME_COLOURS.get(name, charts.OTHER_COLOUR))
                for name, count in sorted(row.outcomes.items())]
    verdicts = [Badge("rollback", _counted(VERDICT_TEXT[name], count), charts.ROLLBACK_COLOURS[name])
                for name, count in row.rollback_verdicts.items()]
    return outcomes + verdicts


def _counted(name: str, count: int) -> str:
    return f"{name} ×{count}" if count > 1 else name
