"""Acknowledged writes in the report: each ends as exactly one of present, absent or unverifiable."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.samples import Sample
from harness.analysis.writes import Read, during_run, writes_report
from harness.checks import ABSENT, OUTCOMES, PRESENT, UNVERIFIABLE
from harness.journal import Event

EXAMPLES = int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200"))
READBACK = Event(50, "readback", {"ok": True, "measured": True})


def write(write_id: str, ok: bool = True, error: str | None = None) -> Sample:
    return Sample(t=1, end=1.1, ok=ok, kind="write", status=201 if ok else 200, error=error, write_id=write_id)


def test_acknowledged_writes_are_counted_by_what_their_read_back_said():
    samples = [write("a"), write("b"), write("c"), write("d"), write("e", ok=False, error="status 500"),
               write("f", ok=False, error="acknowledged status, capture id: nothing found")]
    final = [Read("a", PRESENT, 200), Read("b", ABSENT, 404), Read("c", UNVERIFIABLE, 503)]  # d: never read
    report = writes_report([READBACK], samples, final, [])
    assert (report["acknowledged"], report[PRESENT], report[ABSENT], report[UNVERIFIABLE]) == (4, 1, 1, 2)
    assert report["lost"] == 1 and report["lost_ids"] == ["b"] and report["unverifiable_ids"] == ["c", "d"]
    assert report["not_captured"] == 1


def test_a_run_from_before_readback_files_counts_the_ids_its_journal_found_present_and_the_rest_lost():
    legacy = Event(50, "readback", {"ok": True, "measured": True, "ids": ["a", "c"]})
    report = writes_report([legacy], [write("a"), write("b"), write("c")], [], [])
    assert (report[PRESENT], report[ABSENT], report[UNVERIFIABLE], report["lost_ids"]) == (2, 1, 0, ["b"])


def test_without_a_write_probe_nothing_is_claimed():
    report = writes_report([Event(50, "readback", {"ok": True, "measured": False})], [], [], [])
    assert report == {"measured": False, "acknowledged": 0, "lost": None, "lost_ids": [], "error": None}


def test_a_run_that_made_no_read_back_leaves_lost_unknown():
    report = writes_report([], [write("a")], [], [])
    assert report["lost"] is None and report["error"] == "no read-back was made"


def test_reads_during_the_run_show_windows_when_acknowledged_writes_could_not_be_read():
    phases = [Event(0, "phase.start", {"phase": "warmup"}), Event(10, "phase.start", {"phase": "upgrade"})]
    reads = [Read("a", PRESENT, 200, t=5), Read("a", ABSENT, 404, t=11), Read("b", UNVERIFIABLE, 0, t=12),
             Read("a", PRESENT, 200, t=14), Read("c", PRESENT, 200, t=15)]
    found = during_run(reads, phases)
    assert (found["reads"], found[PRESENT], found[ABSENT], found[UNVERIFIABLE]) == (5, 3, 1, 1)
    assert found["missing_windows"] == [{"start": 11, "end": 14, "reads": 2, "open": False}]
    assert found["by_phase"] == {"warmup": {"reads": 1, "missing": 0}, "upgrade": {"reads": 4, "missing": 2}}


ids = st.text(alphabet="abcdef", min_size=1, max_size=3)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(ids, st.booleans()), max_size=30),
       st.lists(st.tuples(ids, st.sampled_from(OUTCOMES)), max_size=30))
def test_every_acknowledged_write_ends_in_exactly_one_outcome(writes, reads):
    samples = [write(i, ok) for i, ok in writes]
    final = [Read(i, outcome) for i, outcome in reads]
    report = writes_report([READBACK], samples, final, [])
    acknowledged = {i for i, ok in writes if ok}
    assert report["acknowledged"] == len(acknowledged)
    assert sum(report[o] for o in OUTCOMES) == len(acknowledged)
    listed = set(report["lost_ids"]) | set(report["unverifiable_ids"])
    assert listed <= acknowledged and not set(report["lost_ids"]) & set(report["unverifiable_ids"])
    said = {i: o for i, o in reads}
    assert report[PRESENT] == sum(1 for i in acknowledged if said.get(i) == PRESENT)  # never more than were read
