"""sweep.md and sweep.html: a sweep's points per strategy, every repeat, and each strategy's predictability."""

from __future__ import annotations

from markupsafe import Markup

from harness.compare import Spread
from harness.report import charts
from harness.report.html import environment
from harness.report.markdown import markdown_table
from harness.sweep.fold import predictability_line

POINT_COLUMNS = ("point", "struck", "outcomes", "rollback", "downtime", "longest outage", "alike in every repeat")
ALIKE = {True: "yes", False: "NO", None: "-"}  # a point's consistency; "-": fewer than two runs to compare


def sweep_title(document: dict) -> str:
    fault = document["fault"]
    return (f"Sweep of {fault['kind']} across the upgrade: {document['scenario']} on {document['app']}, "
            f"{document.get('engine', 'swarm')}")


def fault_text(fault: dict) -> str:
    """``node-halt on role=upgraded-worker for 30 s``."""
    target = ", ".join(f"{key}={value}" for key, value in (fault.get("target") or {}).items())
    return fault["kind"] + (f" on {target}" if target else "") + (
        f" for {fault['duration']:g} s" if fault.get("duration") else " until the run ends")


def point_cells(point: dict) -> list[str]:
    """One point's row: its outcomes and rollback verdicts counted, downtime and longest outage spreads."""
    return [point["point"], f"{point['struck']} of {len(point['runs'])}", _counted(point["outcomes"]),
            _counted(point["rollbacks"]), Spread(**point["downtime"]).text("s"),
            Spread(**point["longest_outage"]).text("s"), ALIKE[point["consistent"]]]


def sweep_markdown(document: dict) -> str:
    lines = [f"# {sweep_title(document)}", ""]
    for kind, strategy in document["strategies"].items():
        lines += [f"## {kind}", "", f"**Predictability** {predictability_line(kind, strategy)}", ""]
        lines += markdown_table(POINT_COLUMNS, [point_cells(point) for point in strategy["points"]])
        lines.append("")
    return "\n".join(lines).rstrip()


def sweep_page(document: dict) -> str:
    sections = [(kind, predictability_line(kind, strategy),
                 Markup(charts.sweep_chart(kind, strategy["points"])),
                 [point_cells(point) for point in strategy["points"]])
                for kind, strategy in document["strategies"].items()]
    return environment.get_template("sweep.html.j2").render(
        title=sweep_title(document), fault=fault_text(document["fault"]), repeat=document["repeat"],
        columns=POINT_COLUMNS, sections=sections,
        outcome_colours=charts.OUTCOME_COLOURS, rollback_colours=charts.ROLLBACK_COLOURS,
        no_report_colour=charts.OTHER_COLOUR)


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} ×{count}" if count > 1 else name for name, count in counts.items())

