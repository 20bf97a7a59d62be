"""Analysis: pure functions from a run directory's samples and journal to a report."""

from __future__ import annotations

import bisect
import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from harness.analysis import downtime as dt
from harness.analysis.attribution import attribute
from harness.analysis.connections import (
    Translation, Translations, kept_alive, node_propagation, read_translations, translated)
from harness.analysis.outcome import (
    fault_timeline, first, phase_spans, rollback_outcome, upgrade_outcome,
)
from harness.analysis.samples import Sample, by_start, iter_samples
from harness.analysis.steadiness import steadiness
from harness.analysis.timings import timings
from harness.analysis.verdicts import Verdict, judge
from harness.analysis.versions import per_second, propagation, version_mix
from harness.analysis.writes import Read, iter_reads, writes_report
from harness.checks import UNVERIFIABLE
from harness.journal import JOURNAL_FILE, Event, read_journal
from harness.runfiles import CONNECTIONS_FILE, READBACK_FILE, REREADS_FILE, SAMPLES_FILE
from harness.scenario import Scenario

REPORT_SCHEMA = "chaos-harness/report@1"

__all__ = ["REPORT_SCHEMA", "Verdict", "analyze", "analyze_run_dir", "attribute", "attributed_samples",
           "connections_of", "write_reads"]


def analyze_run_dir(run_dir: Path) -> dict:
    """Analyse a run directory from its files alone."""
    events = read_journal(run_dir / JOURNAL_FILE)
    return analyze(events, attributed_samples(run_dir / SAMPLES_FILE, events), *write_reads(run_dir),
                   connections=connections_of(run_dir))


def connections_of(run_dir: Path) -> list[Translation]:
    """The connections the nodes translated during the run (service-switch's trace; none for other strategies)."""
    return read_translations(run_dir / CONNECTIONS_FILE)


def write_reads(run_dir: Path) -> tuple[list[Read], list[Read]]:
    """The reads of acknowledged writes at the end of a run and during it."""
    return list(iter_reads(run_dir / READBACK_FILE)), list(iter_reads(run_dir / REREADS_FILE))


def attributed_samples(path: Path, events: list[Event], notes: list[str] | None = None) -> list[Sample]:
    """The samples of a run sorted by start time, each attributed as it is read: held once, never as text. A
    request sent to a node's NodePort is first tied to its pod by the connections the nodes tracked (the run
    directory's ``CONNECTIONS_FILE``, service-switch's)."""
    tracked = Translations(read_translations(path.with_name(CONNECTIONS_FILE), notes))
    with _cycles_uncollected():
        return by_start(attribute(translated(iter_samples(path, notes), tracked), events))


def analyze(events: list[Event], samples: list[Sample], final_reads: list[Read] = (),
            reads_during: list[Read] = (), connections: list[Translation] = ()) -> dict:
    """The report document (schema ``chaos-harness/report@1``) of one run; ``samples`` already attributed and
    sorted by start time; the reads of acknowledged writes at the end of the run and during it; the connections
    its nodes translated (``connections_of``)."""
    start = first(events, "run.start")
    if start is None:
        raise ValueError("the journal has no run.start event")
    if not start.get("app"):
        raise ValueError("its run.start names no app: a run recorded by a chaos-harness from before app profiles "
                         "cannot be analysed again; its report.json (if any) is still readable")
    scenario = Scenario.model_validate(start.get("scenario"))
    old, new = start.get("app")["old"], start.get("app")["new"]
    windows = dt.outages(samples)
    starts = [s.t for s in samples]
    spans = phase_spans(events)
    upgrade = upgrade_outcome(events)
    rollback = rollback_outcome(events, samples, old, scenario.phases.verify_window)
    writes = writes_report(events, samples, list(final_reads), list(reads_during))
    figures = {
        "downtime": dt.downtime(windows),
        "longest_outage": dt.longest(windows),
        "availability": dt.availability(samples),
        "upgrade_outcome": upgrade["outcome"],
        "rollback": rollback,
        "lost_writes": writes["lost"],
        "unverifiable_writes": writes.get(UNVERIFIABLE, 0),
        "writes_measured": writes["measured"],
    }
    end = first(events, "run.end")
    status = end.get("status") if end else "incomplete"
    error = first(events, "run.error")
    verdicts = [] if status == "refused" else judge(scenario.expect, figures)  # a refused run measured nothing
    origin = start.t
    load = start.get("load") or {}
    return {
        "schema": REPORT_SCHEMA,
        "run_id": start.get("run_id"),
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "app": start.get("app"),
        "cluster": start.get("cluster"),
        "started_at": start.t,
        "ended_at": end.t if end else None,
        "status": status,
        "error": error.get("error") if error else None,
        "load": {**load, "samples": len(samples),
                 "failed": sum(not s.ok for s in samples),
                 "errors": dict(Counter(str(s.error) for s in samples if not s.ok)),
                 "steadiness": steadiness(samples, load["rate"]).as_dict() if load.get("rate") else None},
        "availability": figures["availability"],
        "downtime": figures["downtime"],
        "longest_outage": figures["longest_outage"],
        "outages": [{**asdict(w), "duration": w.duration} for w in windows],
        "phases": {
            name: {"start": s, "end": e, "samples": len(chunk := _within(samples, starts, s, e)),
                   "availability": dt.availability(chunk), "latency": dt.latency_summary(chunk)}
            for name, (s, e) in spans.items()
        },
        "latency": dt.latency_summary(samples),
        "versions": {**asdict(version_mix(samples, old, new)), "old": old, "new": new},
        "propagation": _propagation(events, samples, old, new, connections),
        "timeline": per_second(samples, origin),
        "upgrade": upgrade,
        "rollback": rollback,
        "writes": writes,
        "faults": fault_timeline(events),
        "timings": timings(events),
        "verdicts": [asdict(v) for v in verdicts],
        "passed": all(v.passed for v in verdicts) and status in ("completed", "incomplete"),
    }


def _propagation(events: list[Event], samples: list[Sample], old: str, new: str,
                 connections: list[Translation]) -> dict | None:
    """The switch's propagation to what clients saw (blue-green's and service-switch's), from its request; with
    each node's own when the nodes' connections were traced."""
    requested = first(events, "switch.requested")
    found = propagation(samples, requested.t if requested else None, old, new)
    if found is None:
        return None
    return {**asdict(found), "nodes": node_propagation(connections, events, found.requested_at, old, new),
            "kept_alive": kept_alive(samples, connections, found.requested_at)}


@contextmanager
def _cycles_uncollected() -> Iterator[None]:
    """The cycle collector paused: samples hold no cycles, and it would walk every one read so far, again and
    again, while a long run's million are made (a fifth of the reading time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _within(samples: list[Sample], starts: list[float], start: float, end: float | None) -> list[Sample]:
    """The samples that started in [start, end); ``starts`` are their start times, in order."""
    return samples[bisect.bisect_left(starts, start):None if end is None else bisect.bisect_left(starts, end)]

