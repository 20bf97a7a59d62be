"""Timeline charts as inline SVG: no script, no network, no plotting library.

Every chart shares one time axis (seconds since the run started) and the
same overlays: phases as shaded spans, faults as red spans from inject to
heal, engine and strategy events as labelled vertical markers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 960, 190
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 26, 22
VERSION_COLOURS = {"old": "#4c78a8", "new": "#54a24b", "broken": "#e45756"}  # by the release's role in the run
OTHER_COLOUR = "#9d9d9d"
PHASE_FILLS = ("#f2f2f2", "#e6eef7")


@dataclass(frozen=True)
class Span:
    """A shaded stretch of time: a phase or a fault."""

    start: float
    end: float
    label: str
    kind: str  # "phase", "fault", "missing" (acknowledged writes could not be read) or "propagation" (a switch's)


@dataclass(frozen=True)
class Marker:
    """One instant worth a line across every chart."""

    at: float
    label: str


@dataclass(frozen=True)
class Overlays:
    spans: list[Span]
    markers: list[Marker]


@dataclass(frozen=True)
class Axis:
    """Maps seconds and values to pixels."""

    duration: float
    top_value: float

    def x(self, second: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * max(0.0, min(second, self.duration)) / (self.duration or 1)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * min(value, self.top_value) / (self.top_value or 1)


def rate_chart(timeline: list[dict], duration: float, overlays: Overlays) -> str:
    """Requests per second (line) and failed requests per second (red bars)."""
    axis = Axis(duration, _nice_top(b["requests"] for b in timeline))
    bars = _bars(axis, timeline, lambda b: [(b["failures"], "#e45756")], "failures")
    line = _polyline(axis, [(b["second"] + 0.5, b["requests"]) for b in timeline], "#4c78a8", "requests")
    return _chart("rate", "Requests and failures per second", axis, overlays, bars + line, "req/s",
                  [("requests/s", "#4c78a8"), ("failed/s", "#e45756")])


def latency_chart(timeline: list[dict], duration: float, overlays: Overlays) -> str:
    """p50 and p99 latency per second, in milliseconds."""
    axis = Axis(duration, _nice_top((b["p99"] or 0) * 1000 for b in timeline))
    body = "".join(
        _polyline(axis, [(b["second"] + 0.5, (b[key] or 0) * 1000) for b in timeline], colour, key)
        for key, colour in (("p50", "#4c78a8"), ("p99", "#f58518")))
    return _chart("latency", "Latency per second (ms)", axis, overlays, body, "ms",
                  [("p50", "#4c78a8"), ("p99", "#f58518")])


def version_chart(timeline: list[dict], duration: float, overlays: Overlays, old: str, new: str) -> str:
    """Successful responses per second, stacked by the release that served them (old, new, others)."""
    versions = sorted({v for b in timeline for v in b["versions"]}, key=lambda v: (v != old, v != new, v))
    colour = {v: version_colour(v, old, new) for v in versions}
    axis = Axis(duration, _nice_top(sum(b["versions"].values()) for b in timeline))
    bars = _bars(axis, timeline, lambda b: [(b["versions"].get(v, 0), colour[v]) for v in versions], "version")
    return _chart("versions", "Release mix of successful responses", axis, overlays, bars, "resp/s",
                  [(v, colour[v]) for v in versions])


def version_colour(version: str, old: str, new: str) -> str:
    """The old release blue, the new one green (red when it is the synthesised broken one), others grey."""
    role = "old" if version == old else ("broken" if version == "broken" else "new") if version == new else ""
    return VERSION_COLOURS.get(role, OTHER_COLOUR)


# -- drawing ------------------------------------------------------------------------------


def _chart(name: str, title: str, axis: Axis, overlays: Overlays, body: str, unit: str,
           legend: list[tuple[str, str]]) -> str:
    parts = [f'<svg class="chart" data-chart="{name}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{LEFT}" y="14" class="title">{escape(title)}</text>']
    parts += [_span(axis, span, i) for i, span in enumerate(overlays.spans)]
    parts.append(_grid(axis, unit))
    parts.append(body)
    parts += [_marker(axis, marker, i) for i, marker in enumerate(overlays.markers)]
    parts += [_legend(legend), "</svg>"]
    return "".join(parts)


def _legend(legend: list[tuple[str, str]]) -> str:
    """Coloured squares with their labels, right-aligned at the top of a chart."""
    parts, x = [], WIDTH - RIGHT
    for label, colour in reversed(legend):
        x -= 12 + 7 * len(label)
        parts.append(f'<rect x="{x}" y="5" width="9" height="9" fill="{colour}"/>'
                     f'<text x="{x + 12}" y="13" class="legend">{escape(label)}</text>')
        x -= 10
    return "".join(parts)


def _span(axis: Axis, span: Span, index: int) -> str:
    x1, x2 = axis.x(span.start), axis.x(span.end)
    if span.kind == "missing":  # a band along the top, under the phase labels' line
        return (f'<g class="span missing"><rect x="{x1:.1f}" y="{TOP}" width="{max(x2 - x1, 1.5):.1f}" height="6" '
                f'fill="{MISSING_FILL}"/><title>{escape(span.label)}</title></g>')
    if span.kind == "propagation":  # a band along the bottom, above the fault labels
        return (f'<g class="span propagation"><rect x="{x1:.1f}" y="{HEIGHT - BOTTOM - 6}" '
                f'width="{max(x2 - x1, 1.5):.1f}" height="6" fill="{PROPAGATION_FILL}"/>'
                f'<title>{escape(span.label)}</title></g>')
    if span.kind == "fault":
        return (f'<g class="span fault"><rect x="{x1:.1f}" y="{TOP}" width="{max(x2 - x1, 1.5):.1f}" '
                f'height="{HEIGHT - TOP - BOTTOM}" fill="#e45756" fill-opacity="0.16" stroke="#e45756" '
                f'stroke-opacity="0.5"/><title>{escape(span.label)}</title>'
                f'<text x="{x1 + 3:.1f}" y="{HEIGHT - BOTTOM - 4}" class="fault-label">{escape(span.label)}</text></g>')
    return (f'<g class="span phase"><rect x="{x1:.1f}" y="{TOP}" width="{max(x2 - x1, 0.5):.1f}" '
            f'height="{HEIGHT - TOP - BOTTOM}" fill="{PHASE_FILLS[index % 2]}"/>'
            f'<text x="{x1 + 3:.1f}" y="{TOP + 11}" class="phase-label">{escape(span.label)}</text></g>')


MISSING_FILL = "#7b3294"
PROPAGATION_FILL = "#54a24b"


def _marker(axis: Axis, marker: Marker, index: int) -> str:
    x = axis.x(marker.at)
    y = TOP + 24 + 11 * (index % 4)  # staggered so that close markers stay legible
    return (f'<g class="marker"><line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="#333" stroke-dasharray="3,3" stroke-width="1"/><title>{escape(marker.label)} '
            f'at {marker.at:.1f}s</title><text x="{x + 3:.1f}" y="{y}" class="marker-label">'
            f'{escape(marker.label)}</text></g>')


def _grid(axis: Axis, unit: str) -> str:
    parts = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#888"/>']
    for fraction in (0, 0.5, 1):
        value = axis.top_value * fraction
        y = axis.y(value)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">{value:g}</text>')
    parts.append(f'<text x="4" y="{TOP + 8}" class="tick">{escape(unit)}</text>')
    step = _time_step(axis.duration)
    second = 0.0
    while second <= axis.duration:
        x = axis.x(second)
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="tick" text-anchor="middle">{second:g}s</text>')
        second += step
    return "".join(parts)


def _polyline(axis: Axis, points: list[tuple[float, float]], colour: str, name: str) -> str:
    if not points:
        return ""
    coordinates = " ".join(f"{axis.x(t):.1f},{axis.y(v):.1f}" for t, v in points)
    return f'<polyline class="series" data-series="{name}" points="{coordinates}" fill="none" ' \
           f'stroke="{colour}" stroke-width="1.6"/>'


def _bars(axis: Axis, timeline: list[dict], stacks: Callable[[dict], list[tuple[float, str]]], name: str) -> str:
    width = max(axis.x(1) - axis.x(0) - 0.5, 0.8)
    parts = [f'<g class="series" data-series="{name}">']
    for bucket in timeline:
        base = 0.0
        for value, colour in stacks(bucket):
            if value:
                top = axis.y(base + value)
                parts.append(f'<rect x="{axis.x(bucket["second"]):.1f}" y="{top:.1f}" width="{width:.1f}" '
                             f'height="{axis.y(base) - top:.1f}" fill="{colour}"/>')
                base += value
    parts.append("</g>")
    return "".join(parts)


def _nice_top(values: Iterable[float]) -> float:
    """A round upper bound for the y axis (1, 2 or 5 times a power of ten)."""
    top = max(values, default=0) or 1
    magnitude = 10 ** (len(str(int(top))) - 1)
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= top)


def _time_step(duration: float) -> float:
    return next((s for s in (5, 10, 15, 30, 60, 120, 300) if duration / s <= 12), 600)


# -- sweeps ---------------------------------------------------------------------------------

OUTCOME_COLOURS = {"completed": "#54a24b", "rolled_back": "#4c78a8", "paused": "#f58518", "failed": "#e45756",
                   "timed_out": "#b279a2"}
ROLLBACK_COLOURS = {"none": "#e8e8e8", "succeeded": "#54a24b", "failed": "#e45756"}
DOWNTIME_COLOUR, OUTAGE_COLOUR = "#e45756", "#4c78a8"
SWEEP_HEIGHT, SWEEP_ROW = 230, 16  # the chart, then one row of outcome cells and one of rollback cells


@dataclass(frozen=True)
class SweepAxis:
    """One column per point; seconds upwards, above the two rows of cells."""

    points: int
    top_value: float
    plot_bottom: float = SWEEP_HEIGHT - 2 * SWEEP_ROW - 8  # where the plot ends and the cells begin

    @property
    def column(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.points, 1)

    def centre(self, index: int) -> float:
        return LEFT + self.column * (index + 0.5)

    def y(self, seconds: float) -> float:
        height = self.plot_bottom - BOTTOM - TOP
        return self.plot_bottom - BOTTOM - height * min(seconds, self.top_value) / (self.top_value or 1)


def sweep_chart(kind: str, points: list[dict]) -> str:
    """Downtime (filled dots) and longest outage (rings) of every repeat against the fault's timing, with the
    outcome and rollback verdict of every repeat as coloured cells under each point."""
    values = [run[key] or 0.0 for point in points for run in point["runs"] for key in ("downtime", "longest_outage")]
    axis = SweepAxis(len(points), _nice_top(values))
    return "".join([
        f'<svg class="chart" data-chart="sweep" data-strategy="{escape(kind)}" viewBox="0 0 {WIDTH} {SWEEP_HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(kind)}: downtime against fault timing">',
        f'<text x="{LEFT}" y="14" class="title">{escape(kind)}: downtime against when the fault struck</text>',
        _sweep_grid(axis), *(_sweep_point(point, index, axis) for index, point in enumerate(points)),
        _legend([("downtime", DOWNTIME_COLOUR), ("longest outage", OUTAGE_COLOUR)]), "</svg>"])


def _sweep_grid(axis: SweepAxis) -> str:
    parts = [f'<line x1="{LEFT}" y1="{axis.y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{axis.y(value):.1f}" stroke="#ddd"/>'
             f'<text x="{LEFT - 4}" y="{axis.y(value) + 4:.1f}" class="tick" text-anchor="end">{value:g}</text>'
             for value in (0, axis.top_value / 2, axis.top_value)]
    parts.append(f'<text x="4" y="{TOP + 8}" class="tick">s</text>')
    parts += [f'<text x="{LEFT - 4}" y="{axis.plot_bottom + row * SWEEP_ROW + 11}" class="tick" '
              f'text-anchor="end">{name}</text>' for row, name in enumerate(("outcome", "rollback"))]
    return "".join(parts)


def _sweep_point(point: dict, index: int, axis: SweepAxis) -> str:
    """The point's label, and per repeat its two dots and its two cells, side by side in the point's column."""
    runs, centre = point["runs"], axis.centre(index)
    cell = min(axis.column / max(len(runs), 1), 40.0)
    first = centre - cell * len(runs) / 2
    return "".join([f'<g class="point" data-point="{escape(point["point"])}">',
                    f'<text x="{centre:.1f}" y="{axis.plot_bottom - 6}" class="tick" text-anchor="middle">'
                    f'{escape(point["point"])}</text>',
                    *(_sweep_repeat(run, first + cell * (i + 0.5), cell, axis) for i, run in enumerate(runs)), "</g>"])


def _sweep_repeat(run: dict, x: float, cell: float, axis: SweepAxis) -> str:
    what = escape(f'repeat {run["repeat"]}: {run["outcome"]}, rollback {run["rollback"]}')
    parts = []
    if run["downtime"] is not None:
        parts.append(f'<circle class="repeat downtime" cx="{x:.1f}" cy="{axis.y(run["downtime"]):.1f}" r="4" '
                     f'fill="{DOWNTIME_COLOUR}"><title>{what}: downtime {run["downtime"]:.3f}s</title></circle>')
    if run["longest_outage"] is not None:
        parts.append(f'<circle class="repeat outage" cx="{x:.1f}" cy="{axis.y(run["longest_outage"]):.1f}" r="6" '
                     f'fill="none" stroke="{OUTAGE_COLOUR}" stroke-width="1.5"><title>{what}: longest outage '
                     f'{run["longest_outage"]:.3f}s</title></circle>')
    cells = (("outcome", OUTCOME_COLOURS.get(run["outcome"], OTHER_COLOUR)),
             ("rollback", ROLLBACK_COLOURS.get(run["rollback"], OTHER_COLOUR)))
    parts += [f'<rect class="cell {name}" x="{x - cell / 2 + 1:.1f}" y="{axis.plot_bottom + row * SWEEP_ROW:.1f}" '
              f'width="{cell - 2:.1f}" height="{SWEEP_ROW - 2}" fill="{colour}"><title>{what}</title></rect>'
              for row, (name, colour) in enumerate(cells)]
    return "".join(parts)


# -- comparisons ----------------------------------------------------------------------------

STRATEGY_COLOURS = {"in-service": "#f58518", "blue-green": "#4c78a8"}
COMPARED = (("downtime", "downtime"), ("longest outage", "longest_outage"), ("time to rollback", "time_to_rollback"))
BAR_LEFT, BAR_RIGHT = 200, WIDTH - 210  # the plot between the strategies' names and the figures' text
GROUP_HEAD, BAR_ROW, AXIS_ROOM = 18, 20, 24
MIN_OFFSET = 6  # pixels: a dot's width, so that 0.066 s beside a 30 s rollback is not drawn as 0 s


@dataclass(frozen=True)
class Compared:
    """One strategy's figure in a scenario (on one engine): its spread over the repeats and each repeat's value."""

    strategy: str
    median: float | None
    low: float | None
    high: float | None
    values: Sequence[float | None]
    missing: str = "-"  # shown when no repeat measured it
    label: str = ""  # its name on the chart when not only the strategy's (``in-service on kubernetes``)

    @property
    def name(self) -> str:
        return self.label or self.strategy


@dataclass(frozen=True)
class SecondsAxis:
    """Seconds from 0 to ``top`` across the plot, one scale for every figure of a scenario."""

    top: float

    def x(self, seconds: float) -> float:
        """A value above zero is never drawn at zero: at least ``MIN_OFFSET`` pixels from it."""
        offset = (BAR_RIGHT - BAR_LEFT) * min(seconds, self.top) / self.top
        return BAR_LEFT + (max(offset, MIN_OFFSET) if seconds > 0 else 0.0)


def nice_seconds(values: Iterable[float | None]) -> float:
    """A round top for a seconds axis (1, 2 or 5 times a power of ten, fractions too): 0.066 s -> 0.1 s."""
    top = max((v for v in values if v is not None), default=0.0)
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= top * (1 - 1e-9))


def comparison_chart(scenario: str, figures: dict[str, list[Compared]]) -> str:
    """Per figure (downtime, longest outage, time to rollback) one bar per strategy, all on one seconds scale:
    the bar reaches the median, a whisker spans lowest to highest, a dot marks each repeat, the figure is written
    beside it (so 0 s and 0.066 s never look alike)."""
    axis = SecondsAxis(nice_seconds(v for rows in figures.values() for c in rows for v in (*c.values, c.high)))
    height = AXIS_ROOM + sum(GROUP_HEAD + BAR_ROW * len(rows) for rows in figures.values()) + AXIS_ROOM
    parts = [f'<svg class="chart comparison" data-chart="comparison" data-scenario="{escape(scenario)}" '
             f'viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(scenario)}: downtime, longest outage and time to rollback per strategy">',
             _seconds_grid(axis, height)]
    y = AXIS_ROOM
    for name, rows in figures.items():
        parts.append(f'<text x="8" y="{y + 13}" class="title">{escape(name)}</text>')
        y += GROUP_HEAD
        parts += [_compared_bar(axis, name, compared, y + index * BAR_ROW) for index, compared in enumerate(rows)]
        y += BAR_ROW * len(rows)
    parts.append("</svg>")
    return "".join(parts)


def _seconds_grid(axis: SecondsAxis, height: float) -> str:
    parts = []
    steps = 4 if f"{axis.top:e}".startswith("2") else 5  # round ticks: 0.5 s apart up to 2 s, 1 s apart up to 5 s
    for fraction in (step / steps for step in range(steps + 1)):
        x, value = axis.x(axis.top * fraction), round(axis.top * fraction, 12)
        parts.append(f'<line x1="{x:.1f}" y1="{AXIS_ROOM - 4}" x2="{x:.1f}" y2="{height - AXIS_ROOM + 4}" '
                     f'stroke="{"#888" if fraction == 0 else "#e3e3e3"}"/>')
        parts += [f'<text x="{x:.1f}" y="{at}" class="tick" text-anchor="middle">{value:g} s</text>'
                  for at in (AXIS_ROOM - 8, height - 6)]
    return "".join(parts)


def _compared_bar(axis: SecondsAxis, figure: str, compared: Compared, top: float) -> str:
    colour, middle = STRATEGY_COLOURS.get(compared.strategy, OTHER_COLOUR), top + BAR_ROW / 2
    parts = [f'<g class="bar" data-figure="{escape(figure)}" data-strategy="{escape(compared.strategy)}">',
             f'<text x="{BAR_LEFT - 8}" y="{middle + 4:.1f}" class="tick" text-anchor="end">'
             f'{escape(compared.name)}</text>']
    if compared.median is not None:
        x0, x = axis.x(0), axis.x(compared.median)
        parts.append(f'<rect class="median" x="{x0:.1f}" y="{top + 4}" width="{x - x0:.1f}" height="{BAR_ROW - 8}" '
                     f'fill="{colour}" fill-opacity="0.35"/><line class="median" x1="{x:.1f}" y1="{top + 2}" '
                     f'x2="{x:.1f}" y2="{top + BAR_ROW - 2}" stroke="{colour}" stroke-width="3"/>'
                     f'<line class="range" x1="{axis.x(compared.low):.1f}" y1="{middle:.1f}" '
                     f'x2="{axis.x(compared.high):.1f}" y2="{middle:.1f}" stroke="#333" stroke-width="1.2"/>')
    parts += [_repeat_dot(axis, compared, index, value, middle) for index, value in enumerate(compared.values)
              if value is not None]
    parts += [f'<text x="{BAR_RIGHT + 10}" y="{middle + 4:.1f}" class="value">{escape(_compared_text(compared))}'
              f'</text>', "</g>"]
    return "".join(parts)


def _repeat_dot(axis: SecondsAxis, compared: Compared, index: int, value: float, middle: float) -> str:
    spread = (index - (len(compared.values) - 1) / 2) * min(3.0, 8.0 / max(len(compared.values), 1))
    return (f'<circle class="repeat" cx="{axis.x(value):.1f}" cy="{middle + spread:.1f}" r="3.5" '
            f'fill="{STRATEGY_COLOURS.get(compared.strategy, OTHER_COLOUR)}" stroke="#fff" stroke-width="0.8">'
            f'<title>{escape(compared.name)}, repeat {index + 1}: {value:.3f} s</title></circle>')


def _compared_text(compared: Compared) -> str:
    """``0.066 s``, ``2 s [1-3] over 3``, or why there is none."""
    if compared.median is None:
        return compared.missing
    measured = len([v for v in compared.values if v is not None])
    low, median, high = (round(v, 3) for v in (compared.low, compared.median, compared.high))
    spread = "" if low == high else f" [{low:g}-{high:g}]"
    return f"{median:g} s{spread}" + (f" over {measured}" if measured > 1 else "")

