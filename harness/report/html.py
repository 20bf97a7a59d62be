"""report.html, and the templates every page shares: self-contained pages (inline CSS and SVG, no script from
anywhere). compare.html: ``harness.report.comparison``."""

from __future__ import annotations

import json

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from harness.compare import is_refused
from harness.journal import Event
from harness.report import charts
from harness.report.text import lost_lines, refusal, result, summary_rows, title

environment = Environment(loader=PackageLoader("harness.report", "templates"),
                          autoescape=select_autoescape(["html", "j2"]))

# Journal events worth a marker across the charts, and how to label them.
MARKED_STATES = ("updating", "paused", "completed", "rolling_back", "rollback_paused", "rolled_back")
MARKERS = {
    "upgrade.requested": lambda e: "upgrade requested",
    "bluegreen.ready": lambda e: "green ready",
    "switch.done": lambda e: f"switched to {e.get('live')}",
    "rollback.requested": lambda e: "rollback requested",
    "rollback.switched_back": lambda e: "switched back",
    "upgrade.settled": lambda e: f"settled: {e.get('outcome')}",
}


def run_page(report: dict, events: list[Event]) -> str:
    """The HTML report of one run."""
    origin = report["started_at"]
    duration = max((report["ended_at"] or origin) - origin, len(report["timeline"]), 1)
    overlays = overlays_of(report, events)
    timeline, versions = report["timeline"], report["versions"]
    drawn = (charts.rate_chart(timeline, duration, overlays), charts.latency_chart(timeline, duration, overlays),
             charts.version_chart(timeline, duration, overlays, versions["old"], versions["new"]))
    return environment.get_template("report.html.j2").render(
        title=title(report), result=result(report), refusal=refusal(report) if is_refused(report) else None,
        report=report, rows=summary_rows(report), charts=[Markup(chart) for chart in drawn],
        lost=lost_lines(report["writes"]),
        events=[_event_row(e, origin) for e in events],
    )


def overlays_of(report: dict, events: list[Event]) -> charts.Overlays:
    """Phases and faults as spans, engine and strategy steps as markers, in seconds since the run started."""
    origin = report["started_at"]
    end = (report["ended_at"] or origin) - origin
    spans = [charts.Span(phase["start"] - origin, (phase["end"] or origin + end) - origin, str(name), "phase")
             for name, phase in report["phases"].items()]  # str: a damaged journal can name a phase null
    spans += [charts.Span(f["injected_at"] - origin, (f["healed_at"] or origin + end) - origin,
                          f"{f['kind']} on {f['target']}", "fault") for f in report["faults"]]
    missing = (report["writes"].get("during_run") or {}).get("missing_windows", [])
    spans += [charts.Span(w["start"] - origin, w["end"] - origin, f"acknowledged writes unreadable for "
                          f"{w['end'] - w['start']:.1f}s ({w['reads']} reads)", "missing") for w in missing]
    spread = report.get("propagation") or {}
    if spread.get("window") is not None:
        start = spread["requested_at"] - origin
        spans.append(charts.Span(start, start + spread["window"], f"the switch on its way to the clients: "
                                 f"{spread['window']:.2f}s, {spread['failed']} failed", "propagation"))
    markers: list[charts.Marker] = []
    upgrading = False
    for event in events:
        upgrading = upgrading or event.type == "upgrade.requested"
        if not upgrading:
            continue  # engine states before the upgrade are left over from earlier runs
        if event.type in MARKERS:
            markers.append(charts.Marker(event.t - origin, MARKERS[event.type](event)))
        elif event.type == "engine.update_state" and event.get("state") in MARKED_STATES:
            markers.append(charts.Marker(event.t - origin, f"engine: {event.get('state')}"))
    return charts.Overlays(spans, markers)


def _event_row(event: Event, origin: float) -> tuple[str, str, str]:
    data = {k: v for k, v in event.data.items() if k not in ("scenario",)}
    details = " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in data.items())
    return f"{event.t - origin:+.2f}s", event.type, details[:300]
