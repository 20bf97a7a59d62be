"""Upgrade, rollback, write-integrity and fault outcomes read from the journal and samples."""

from __future__ import annotations

from harness.analysis.samples import Sample
from harness.journal import Event


ROLLBACK_STATES = ("rolling_back", "rollback_paused", "rolled_back")
FAILED_TASK_STATES = ("failed", "rejected")  # a task the engine gave up on


def first(events: list[Event], type: str, after: float = float("-inf"), **match) -> Event | None:
    """The first event of ``type`` at or after ``after`` whose fields match."""
    for event in events:
        if event.type == type and event.t >= after and all(event.get(k) == v for k, v in match.items()):
            return event
    return None


def phase_spans(events: list[Event]) -> dict[str, tuple[float, float | None]]:
    """Phase name to (start, end) from phase.start/phase.end events."""
    spans: dict[str, tuple[float, float | None]] = {}
    for event in events:
        if event.type == "phase.start":
            spans[event.get("phase")] = (event.t, None)
        elif event.type == "phase.end" and event.get("phase") in spans:
            spans[event.get("phase")] = (spans[event.get("phase")][0], event.t)
    return spans


def upgrade_outcome(events: list[Event]) -> dict:
    """Outcome and time to settle of the upgrade, as the runner judged it from the engine (and LB).

    Blue-green adds the time until green was ready for traffic and how long
    the switch at the load balancer took (``None`` where it did not happen).
    """
    requested = first(events, "upgrade.requested")
    if requested is None:
        return {"outcome": "not_started", "strategy": None, "duration": None, "engine_state": None, "message": "",
                "time_to_ready": None, "time_to_switch": None}
    settled = first(events, "upgrade.settled", requested.t)
    ready = first(events, "bluegreen.ready", requested.t)
    switched = first(events, "switch.done", requested.t)
    base = {"strategy": requested.get("strategy"),
            "time_to_ready": ready.t - requested.t if ready else None,
            "time_to_switch": switched.get("duration") if switched else None}
    if settled is None:
        return {**base, "outcome": "failed", "duration": None, "engine_state": None,
                "message": "the run ended before the upgrade settled"}
    return {**base, "outcome": settled.get("outcome"), "duration": settled.t - requested.t,
            "engine_state": settled.get("update_state"), "message": settled.get("message", "")}


def rollback_outcome(events: list[Event], samples: list[Sample], old: str, verify_window: float) -> dict:
    """Rollback verified three ways: engine state, running tasks, and what clients were served.

    Success needs all of: the engine reports rollback complete (or the switch
    back happened); every running task runs ``old`` at the desired count, and
    no node's processes still run another version of the live service (a
    frozen engine reports its tasks gone while they run on); and every
    response in the last ``verify_window`` seconds of the run is a success
    from ``old``. Time to rollback runs from the trigger to the later of the
    engine's completion and the start of the final unbroken run of good
    old-version responses.
    """
    requested = first(events, "upgrade.requested")
    after = requested.t if requested else float("-inf")
    detected = first(events, "rollback.detected", after)
    trigger = first(events, "rollback.requested", after) or next(
        (e for e in events if e.t >= after and e.type == "engine.update_state" and e.get("state") in ROLLBACK_STATES),
        None) or detected  # a fast rollback can start and finish between two polls: then its first sign is the trigger
    if trigger is None:
        return {"triggered": False, "success": None, "time_to_rollback": None, "reasons": []}
    # The engine's own record of when the rollback started beats the moment a poll first saw it; a
    # rollback the engine reported as a completed update started at the first failed new task.
    triggered_at = (_first_failed_task(events, after, old) if trigger is detected else None) or \
        trigger.get("started_at") or trigger.t
    completed = first(events, "engine.update_state", trigger.t, state="rolled_back") or first(
        events, "rollback.switched_back", trigger.t) or detected
    finals = [e for e in events if e.type == "engine.final"]  # one per upgraded service
    spans = phase_spans(events)
    observe_end = (spans.get("observe") or (None, None))[1] or (samples[-1].end if samples else trigger.t)
    window = [s for s in samples if observe_end - verify_window <= s.t <= observe_end]
    reasons = []
    if completed is None:
        reasons.append("the engine never reported the rollback complete")
    if not finals:
        reasons.append("the engine's final state was not recorded")
    for final in finals:
        if not _all_on(final, old):
            reasons.append(f"running tasks of {final.get('service')} at the end were {_counted(final.get('running'))}, "
                           f"not {final.get('replicas')} x {old}")
        reasons.extend(_stray_processes(final, old))
    bad = [s for s in window if not (s.ok and s.version == old)]
    if not window:
        reasons.append("no requests in the verification window")
    elif bad:
        reasons.append(f"{len(bad)} of {len(window)} responses in the last {verify_window:g}s were not successes from {old}")
    steady = _steady_since(samples, old, triggered_at, observe_end)
    success = not reasons
    time_to_rollback = (max(completed.t, steady) - triggered_at) if success and completed and steady else None
    unread = sorted({f"the nodes' processes were not read ({final.get('census')})" for final in finals
                     if final.get("census")})
    return {"triggered": True, "trigger": trigger.type, "success": success,
            "time_to_rollback": time_to_rollback, "reasons": reasons, "unverified": unread}


def _first_failed_task(events: list[Event], after: float, old: str) -> float | None:
    return next((e.t for e in events if e.t >= after and e.type == "engine.task" and e.get("version") != old
                 and e.get("state") in FAILED_TASK_STATES), None)


def _all_on(final: Event, version: str) -> bool:
    running = final.get("running") or {}
    return set(running) == {version} and running[version] == final.get("replicas")


def _stray_processes(final: Event, old: str) -> list[str]:
    """Nodes whose processes run a version other than ``old`` of the final live service."""
    reasons = []
    for node, versions in sorted((final.get("processes") or {}).items()):
        stray = {version: count for version, count in (versions or {}).items() if version != old}
        if stray:
            listed = ", ".join(f"{count} x {version}" for version, count in sorted(stray.items()))
            reasons.append(f"{node} still runs {listed} of {final.get('service')} although the engine "
                           f"reports {_counted(final.get('running'))}")
    return reasons


def _counted(versions: dict | None) -> str:
    """``{'v1': 2, 'v2': 1}`` as ``2 x v1, 1 x v2`` (``none`` for no task)."""
    return ", ".join(f"{count} x {version}" for version, count in sorted((versions or {}).items())) or "none"


def _steady_since(samples: list[Sample], version: str, since: float, until: float) -> float | None:
    """Start of the final unbroken run of successes from ``version`` between ``since`` and ``until``."""
    steady = None
    for sample in samples:
        if since <= sample.t <= until:
            good = sample.ok and sample.version == version
            steady = (steady or sample.t) if good else None
    return steady


def fault_timeline(events: list[Event]) -> list[dict]:
    """Each injected fault: target, inject and heal times, and the engine's first sign of it."""
    faults = []
    for inject in (e for e in events if e.type == "fault.inject"):
        fault_id, target = inject.get("id"), inject.get("target")
        heal = first(events, "fault.heal", inject.t, id=fault_id)
        until = heal.t if heal else float("inf")
        effect = next((e for e in events if inject.t <= e.t <= until and _engine_sign(e, target)), None)
        faults.append({
            "id": fault_id, "kind": inject.get("kind"), "target": target, "injected_at": inject.t,
            "healed_at": heal.t if heal else None, "heal_ok": heal.get("ok") if heal else None,
            "engine_effect": _describe(effect) if effect else None,
            "time_to_effect": (effect.t - inject.t) if effect else None,
            "engine_said": heal.get("said") if heal else None,  # what the engine refused while it held (node-drain)
        })
    return faults


def _engine_sign(event: Event, node: str) -> bool:
    """An engine event that shows trouble: the node not ready or drained, a task on it rejected or failed, an update
    halted."""
    if event.type == "engine.node_state":
        return event.get("node") == node and (event.get("state") != "ready" or _drained(event))
    if event.type == "engine.task":
        return event.get("node") == node and event.get("state") in FAILED_TASK_STATES
    return event.type == "engine.update_state" and event.get("state") in ("paused", "rolling_back")


def _drained(event: Event) -> bool:
    """A node event of a node taken out of scheduling (journals from before availability was recorded: none)."""
    return event.get("availability", "active") != "active"


def _describe(event: Event) -> str:
    if event.type == "engine.node_state":
        return "node drained" if event.get("state") == "ready" and _drained(event) else f"node {event.get('state')}"
    if event.type == "engine.task":
        return f"task {event.get('state')}: {event.get('error')}"[:160]
    return f"update {event.get('state')}"
