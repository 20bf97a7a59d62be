"""Acknowledged writes: what the final read-back, and the reads during the run, said of each.

Every acknowledged write ends as exactly one of present, absent (lost) or
unverifiable (the read-back never got an answer that says); unverifiable is
never counted as present. Reads during the run (``rereads.jsonl``) show when
acknowledged writes could not be read: windows like outages, and counts per
phase.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from harness.analysis import downtime as dt
from harness.analysis.outcome import first
from harness.analysis.samples import Sample
from harness.checks import ABSENT, OUTCOMES, PRESENT, UNVERIFIABLE
from harness.errors import one_line
from harness.journal import Event
from harness.jsonl import finite_number, iter_jsonl

LISTED = 100  # ids listed per outcome in the report


class Read(NamedTuple):
    """One read of an acknowledged write: at the end (``readback.jsonl``) or during the run (``rereads.jsonl``)."""

    write_id: str
    outcome: str
    status: int | None = None
    reason: str | None = None
    t: float | None = None  # when it was sent (reads during the run)


def iter_reads(path: Path) -> Iterator[Read]:
    """The reads recorded in ``path`` (none without the file); a damaged line is an error naming it."""
    return iter_jsonl(path, _read) if path.exists() else iter(())


def _read(record: dict) -> Read:
    write_id, outcome, status, t = (record.get(k) for k in ("write_id", "outcome", "status", "t"))
    if not isinstance(write_id, str) or outcome not in OUTCOMES:
        raise ValueError(f"write_id {one_line(repr(write_id), 40)} / outcome {one_line(repr(outcome), 40)}")
    if not (status is None or (isinstance(status, int) and not isinstance(status, bool))):
        raise ValueError(f"status is {one_line(repr(status), 40)}")
    if not (t is None or finite_number(t)):
        raise ValueError(f"t is {one_line(repr(t), 40)}")
    reason = record.get("reason")
    return Read(write_id, outcome, status, reason if isinstance(reason, str) else None, t)


def writes_report(events: list[Event], samples: list[Sample], final: list[Read], during: list[Read]) -> dict:
    """The report's ``writes`` section."""
    readback = first(events, "readback")
    if readback is not None and readback.get("measured") is False:
        return {"measured": False, "acknowledged": 0, "lost": None, "lost_ids": [], "error": None}
    acknowledged = {s.write_id for s in samples if s.ok and s.write_id}
    not_captured = sum(1 for s in samples if not s.ok and s.write_id and str(s.error).startswith("acknowledged"))
    base = {"measured": True, "acknowledged": len(acknowledged), "not_captured": not_captured,
            "control": _control(events), "during_run": during_run(during, events)}
    if readback is None or not readback.get("ok"):
        return {**base, "lost": None, "lost_ids": [], "error": readback.get("error") if readback else
                "no read-back was made"}
    if not final and isinstance(readback.get("ids"), list):  # a run from before readback.jsonl: ids found, or lost
        found = set(readback.get("ids"))
        final = [Read(i, PRESENT if i in found else ABSENT) for i in acknowledged]
    return {**base, **_final(acknowledged, final), "error": None}


def _final(acknowledged: set[str], final: list[Read]) -> dict:
    """Counts and ids per outcome; a write the read-back left out counts as unverifiable."""
    outcome = {r.write_id: r.outcome for r in final if r.write_id in acknowledged}
    ids = {name: sorted(i for i in acknowledged if outcome.get(i, UNVERIFIABLE) == name) for name in OUTCOMES}
    return {**{name: len(ids[name]) for name in OUTCOMES}, "lost": len(ids[ABSENT]),
            "lost_ids": ids[ABSENT][:LISTED], "unverifiable_ids": ids[UNVERIFIABLE][:LISTED]}


def during_run(reads: list[Read], events: list[Event]) -> dict:
    """Reads of acknowledged writes while the run went on: counts, windows when they were missing, per phase."""
    timed = sorted((r for r in reads if r.t is not None), key=lambda r: r.t)
    as_samples = [Sample(r.t, r.t, r.outcome == PRESENT, "reread") for r in timed]
    windows = dt.outages(as_samples)
    counts = Counter(r.outcome for r in timed)
    return {"reads": len(timed), **{name: counts[name] for name in OUTCOMES},
            "missing_windows": [{"start": w.start, "end": w.end, "reads": w.failed_requests, "open": w.open}
                                for w in windows],
            "by_phase": _by_phase(timed, events)}


def _by_phase(reads: list[Read], events: list[Event]) -> dict:
    spans = [(e.get("phase"), e.t) for e in events if e.type == "phase.start"]
    found: dict[str, Counter] = {name: Counter() for name, _ in spans}
    for read in reads:
        phase = next((name for name, start in reversed(spans) if start <= read.t), None)
        if phase is not None:
            found[phase][read.outcome] += 1
    return {name: {"reads": sum(c.values()), "missing": c[ABSENT] + c[UNVERIFIABLE]} for name, c in found.items()}


def _control(events: list[Event]) -> dict | None:
    control = first(events, "readback.control")
    if control is None:
        return None
    return {key: (control.get(key) or {}).get("outcome") for key in ("written", "never_written")}
