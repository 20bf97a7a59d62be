"""The harness's own cost per run: how long its phases and steps took, read from the journal.

The runner journals each phase between ``phase.start`` and ``phase.end``
(prepare and the scenario's phases) and each step of its own between
``step.start`` and ``step.end`` (heal, read-back, log collection, then,
after ``run.end``, analysis and rendering). Phases and steps never overlap,
and the journal is in time order.
"""

from __future__ import annotations

from harness.analysis.outcome import first
from harness.journal import Event

SCENARIO_PHASES = ("warmup", "upgrade", "rollback", "observe")  # what the scenario asked for; the rest is overhead
STEPS = ("heal", "read_back", "logs", "analysis", "rendering")
_SPANS = {"phase.start": "phase", "phase.end": "phase", "step.start": "step", "step.end": "step"}


def timings(events: list[Event]) -> dict:
    """Seconds of prepare, each scenario phase that ran, each step (None when the journal does not show it), the
    whole run from ``run.start`` to the journal's last event (``wall``), and ``overhead``: wall minus the
    scenario's phases."""
    spent = durations(events)
    phases = {name: spent[name] for name in SCENARIO_PHASES if name in spent}
    wall = events[-1].t - first(events, "run.start").t
    return {"prepare": spent.get("prepare"), "phases": phases, **{step: spent.get(step) for step in STEPS},
            "wall": wall, "overhead": wall - sum(phases.values())}


def durations(events: list[Event]) -> dict[str, float]:
    """Phase or step name -> seconds from its start to its end event. One cut short by a failure (no end event)
    lasted until the next phase or step started, or until the journal's last event."""
    spent: dict[str, float] = {}
    running: tuple[str, float] | None = None  # name and start of the phase or step under way
    for event in events:
        kind = _SPANS.get(event.type)
        if kind is None:
            continue
        name = event.get(kind)
        if running is not None and (event.type.endswith(".start") or name == running[0]):
            spent[running[0]] = event.t - running[1]
            running = None
        if event.type.endswith(".start"):
            running = (name, event.t)
    if running is not None:
        spent[running[0]] = events[-1].t - running[1]
    return spent
