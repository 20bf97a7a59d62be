"""Analysis of a long run streams: samples read a line at a time, attributed as read, held once and compactly."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from harness.analysis import analyze, analyze_run_dir, attribute, write_reads
from harness.analysis.samples import iter_samples, read_samples
from harness.errors import UsageError
from harness.journal import read_journal
from harness.jsonl import iter_jsonl, read_jsonl
from harness.testing import LongRun, write_long_run

SAMPLES = 20_000
RATE = 50.0  # 400 s of load: the outages of the synthetic run lie apart


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    return write_long_run(tmp_path_factory.mktemp("long") / "run", SAMPLES, RATE)


def test_streamed_analysis_tells_what_the_samples_read_whole_tell(long_run):
    events = read_journal(long_run / "journal.jsonl")
    whole = analyze(events, attribute(read_samples(long_run / "samples.jsonl"), events), *write_reads(long_run))
    assert analyze_run_dir(long_run) == whole


def test_a_long_run_has_the_outages_attribution_and_lost_writes_it_was_made_with(long_run):
    report = analyze_run_dir(long_run)
    plan = LongRun(SAMPLES, RATE)
    long_ones = [o for o in report["outages"] if o["duration"] > 1]
    assert [(o["start"], o["end"]) for o in long_ones] == [
        pytest.approx((start, end), abs=1 / RATE) for start, end in plan.outages()]
    assert report["longest_outage"] == pytest.approx(8, abs=1 / RATE)
    assert set(report["versions"]["counts"]) == {"v1", "v2"}
    first_replacement = plan.outages()[1]  # v2's first task answers every third request once that outage is over
    assert report["versions"]["first_new"] == pytest.approx(first_replacement[1], abs=3 / RATE)
    assert report["writes"]["lost"] == 3 and report["load"]["samples"] == SAMPLES
    assert report["upgrade"]["outcome"] == "completed"


def test_the_reader_reads_every_line_as_the_standard_library_does(long_run):
    for name in ("samples.jsonl", "journal.jsonl"):
        lines = (long_run / name).read_text().splitlines()
        assert read_jsonl(long_run / name, lambda record: record) == [json.loads(line) for line in lines]


@pytest.mark.parametrize("line", [
    '{"a": "\\ud800"}',  # a lone surrogate: the fast parser refuses it, the standard library takes it
    '{"a": ' + "[" * 300 + "]" * 300 + "}",  # deeper than the fast parser goes
])
def test_what_only_the_standard_library_reads_is_still_read(tmp_path, line):
    (tmp_path / "f.jsonl").write_text(line + "\n")
    assert read_jsonl(tmp_path / "f.jsonl", lambda record: record) == [json.loads(line)]


def test_a_damaged_line_is_named_in_the_standard_library_words(tmp_path):
    (tmp_path / "f.jsonl").write_text('{"a": 1}\n{oops\n')
    with pytest.raises(UsageError, match=r"f.jsonl line 2 is damaged \(not JSON: Expecting property name"):
        read_jsonl(tmp_path / "f.jsonl", lambda record: record)


def test_the_reader_holds_one_line_at_a_time(long_run):
    tracemalloc.start()
    count = sum(1 for _ in iter_jsonl(long_run / "samples.jsonl", lambda record: None))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == SAMPLES
    assert peak < 200_000 < (long_run / "samples.jsonl").stat().st_size  # the file is 3 MB


def test_analysis_holds_each_sample_once_and_compactly(long_run):
    tracemalloc.start()
    analyze_run_dir(long_run)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak / SAMPLES < 400  # bytes a sample; read whole and attributed as a copy they took 640


def test_samples_stream_in_the_order_written_and_are_read_sorted_by_start(long_run):
    streamed = [s.t for s in iter_samples(long_run / "samples.jsonl")]
    assert streamed != sorted(streamed)  # written as they ended
    assert [s.t for s in read_samples(long_run / "samples.jsonl")] == sorted(streamed)
