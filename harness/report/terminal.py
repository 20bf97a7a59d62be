"""The terminal summary of one run, rendered from its report document."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from harness.compare import Row, is_refused, origins_note
from harness.report.text import (COMPARISON_COLUMNS, comparison_cells, comparison_title, cost_rows, refusal,
                                 result, summary_rows, title)

VALUE_WIDTH = 120  # columns of a figure before it wraps: a long row (the engine's changes) does not widen every row


def summary_table(report: dict) -> Table:
    """Key figures and verdicts of one run (a refused run: why)."""
    table = Table(title=f"{title(report)}  ({report['run_id']})", show_header=False)
    table.add_column(style="bold")
    table.add_column(max_width=VALUE_WIDTH, overflow="fold")
    rows = [("refused", escape(refusal(report)))] if is_refused(report) else summary_rows(report) + cost_rows(report)
    for label, text in rows:
        table.add_row(label, text)
    for verdict in report["verdicts"]:
        mark = "[green]PASS[/]" if verdict["passed"] else "[red]FAIL[/]"
        table.add_row(f"expect {verdict['name']}", f"{mark} measured {verdict['measured']}, "
                                                   f"expected {verdict['expected']}")
    table.add_row("result", f"[{'green' if report['passed'] else 'red'}]{escape(result(report))}[/]")
    return table


def comparison_table(rows: list[Row]) -> Table:
    """The strategy x scenario table: medians with [low-high] over the repeats; its caption says when the runs
    come from more than one machine or cluster."""
    table = Table(title=comparison_title(rows), caption=origins_note(rows))
    for column in COMPARISON_COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*comparison_cells(row))
    return table


def text_table(title: str, header: Sequence[str], rows: list[list[str]]) -> Table:
    """A plain table of text cells (the calibration's)."""
    table = Table(title=title)
    for column in header:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table
