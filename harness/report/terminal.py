"""The terminal summary of one run, rendered from its report document."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.compare import Row


def _s(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.3f}{unit}"


def summary_table(report: dict) -> Table:
    """Key figures of one run: downtime, availability, latency, outcomes, writes."""
    load = report["load"]
    upgrade, rollback, writes = report["upgrade"], report["rollback"], report["writes"]
    strategy = report["scenario"]["strategy"]["kind"]
    table = Table(title=f"{report['scenario']['name']} under {strategy}  ({report['run_id']})", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    availability = report["availability"]
    table.add_row("load", f"{load['samples']} requests at {load.get('rate')}/s, timeout {load.get('timeout')}s, "
                          f"{load['failed']} failed {load['errors'] or ''}")
    table.add_row("availability", "-" if availability is None else f"{availability * 100:.3f}%")
    table.add_row("downtime", f"{_s(report['downtime'])} in {len(report['outages'])} outage(s), "
                              f"longest {_s(report['longest_outage'])}")
    latency = report["latency"]
    table.add_row("latency", f"p50 {_s(latency['p50'])}  p95 {_s(latency['p95'])}  p99 {_s(latency['p99'])}  "
                             f"max {_s(latency['max'])}")
    versions = report["versions"]
    table.add_row("versions", f"{versions['counts']}, mixed window {_s(versions['mixed_window'])}")
    detail = f"engine: {upgrade['engine_state']}" if strategy == "in-service" else (
        f"green ready after {_s(upgrade['time_to_ready'])}, switch took {_s(upgrade['time_to_switch'])}")
    table.add_row("upgrade", f"{upgrade['outcome']} after {_s(upgrade['duration'])} ({detail})"
                             + (f": {upgrade['message']}" if upgrade["message"] else ""))
    if rollback["triggered"]:
        verdict = "succeeded" if rollback["success"] else "FAILED: " + "; ".join(rollback["reasons"])
        table.add_row("rollback", f"{verdict}, time to rollback {_s(rollback['time_to_rollback'])}")
    else:
        table.add_row("rollback", "not triggered")
    lost = "unknown" if writes["lost"] is None else str(writes["lost"])
    table.add_row("writes", f"{writes['acknowledged']} acknowledged, {lost} lost")
    for fault in report["faults"]:
        table.add_row(f"fault {fault['kind']}", f"on {fault['target']}, engine saw {fault['engine_effect'] or '-'} "
                                                f"after {_s(fault['time_to_effect'])}, healed: {fault['heal_ok']}")
    for verdict in report["verdicts"]:
        mark = "[green]PASS[/]" if verdict["passed"] else "[red]FAIL[/]"
        table.add_row(f"expect {verdict['name']}", f"{mark} measured {verdict['measured']}, "
                                                   f"expected {verdict['expected']}")
    table.add_row("result", "[green]PASSED[/]" if report["passed"] else f"[red]FAILED[/] ({report['status']})")
    return table


def print_summary(report: dict, console: Console | None = None) -> None:
    (console or Console()).print(summary_table(report))


COMPARISON_COLUMNS = ("scenario", "strategy", "runs", "downtime", "longest outage", "error rate", "p99",
                      "upgrade outcomes", "rollback ok", "time to rollback", "lost writes")


def comparison_table(rows: list[Row]) -> Table:
    """The strategy x scenario table: medians with [low-high] over the repeats."""
    table = Table(title="in-service vs blue-green")
    for column in COMPARISON_COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*comparison_cells(row))
    return table


def comparison_markdown(rows: list[Row]) -> str:
    """The same table in Markdown, for notes, pull requests and summary files."""
    lines = ["| " + " | ".join(COMPARISON_COLUMNS) + " |", "|" + "---|" * len(COMPARISON_COLUMNS)]
    lines += ["| " + " | ".join(comparison_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def comparison_cells(row: Row) -> list[str]:
    """One comparison row as text, shared by the terminal table and Markdown."""
    rollback = "-" if not row.rollbacks_triggered else f"{row.rollbacks_succeeded}/{row.rollbacks_triggered}"
    return [row.scenario, row.strategy, str(row.runs), row.downtime.text("s"), row.longest_outage.text("s"),
            row.error_rate.text("%", scale=100), row.p99.text("s"),
            ", ".join(f"{outcome} {count}" for outcome, count in sorted(row.outcomes.items())),
            rollback, row.time_to_rollback.text("s"), row.lost_writes.text("")]
