"""Markdown reports: summary.md of a run (fit for a CI job summary) and the comparison table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness.compare import Row, is_refused, origins_note
from harness.report.text import (COMPARISON_COLUMNS, comparison_cells, cost_rows, lost_lines, refusal,
                                 result, summary_rows, title)


def comparison_markdown(rows: list[Row]) -> str:
    """The same table in Markdown, for notes, pull requests and summary files; below it, when the runs come from
    more than one machine or cluster, a note saying so."""
    note = origins_note(rows)
    table = markdown_table(COMPARISON_COLUMNS, [comparison_cells(row) for row in rows])
    return "\n".join(table + ([] if note is None else ["", f"**Note:** {note}"]))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table, every cell escaped."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows)]


def run_summary(report: dict) -> str:
    """A short Markdown summary of one run: result, key figures, expectations."""
    lines = [f"### {title(report)}: {result(report)}", "", f"Run `{report['run_id']}`.", ""]
    if is_refused(report):
        return "\n".join([*lines, "Refused before it started; nothing was measured and no expectation judged:", "",
                          "```", refusal(report), "```"]) + "\n"
    lines += ["| figure | value |", "|---|---|"]
    lines += [f"| {label} | {_cell(text)} |" for label, text in summary_rows(report) + cost_rows(report)]
    if lost := lost_lines(report["writes"]):
        lines += ["", "Writes not read back:", "", *(f"- {line}" for line in lost)]
    if report["verdicts"]:
        lines += ["", "| expectation | expected | measured | result |", "|---|---|---|---|"]
        lines += [f"| {v['name']} | {_cell(v['expected'])} | {_cell(v['measured'])} | "
                  f"{'pass' if v['passed'] else '**FAIL**'} |" for v in report["verdicts"]]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
