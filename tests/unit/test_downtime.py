"""Outage windows, downtime, availability and percentiles on samples with known answers."""

import pytest

from harness.analysis import downtime as dt
from harness.analysis.samples import Sample


def ok(t: float, latency: float = 0.01) -> Sample:
    return Sample(t=t, end=t + latency, ok=True, version="v1")


def fail(t: float, latency: float = 1.0) -> Sample:
    return Sample(t=t, end=t + latency, ok=False, error="timeout")


def test_an_outage_of_exactly_two_seconds_between_successes_measures_two_seconds():
    samples = [ok(100.0), ok(100.5), fail(101.0), fail(101.5), fail(102.0), fail(102.5), ok(103.0), ok(103.5)]
    windows = dt.outages(samples)
    assert len(windows) == 1
    assert windows[0].start == 101.0 and windows[0].end == 103.0
    assert dt.downtime(windows) == pytest.approx(2.000, abs=1e-9)
    assert dt.longest(windows) == pytest.approx(2.000, abs=1e-9)
    assert windows[0].failed_requests == 4


def test_interleaved_partial_failures_count_only_the_gaps_until_the_next_success():
    # One backend of three is failing: every third request fails, the next one succeeds 0.1 s later.
    samples = []
    for i in range(30):
        t = 10.0 + i * 0.1
        samples.append(fail(t) if i % 3 == 0 else ok(t))
    windows = dt.outages(samples)
    assert len(windows) == 9  # the failure at i=0 comes before any success and is not an outage
    assert all(w.duration == pytest.approx(0.1) for w in windows)
    assert dt.downtime(windows) == pytest.approx(0.9)
    assert dt.availability(samples) == pytest.approx(20 / 30)


def test_no_failures_means_no_downtime_and_full_availability():
    samples = [ok(float(t)) for t in range(50)]
    assert dt.outages(samples) == []
    assert dt.downtime([]) == 0.0
    assert dt.longest([]) == 0.0
    assert dt.availability(samples) == 1.0


def test_all_failures_is_zero_availability_and_no_outage_of_a_service_that_never_worked():
    samples = [fail(float(t)) for t in range(10)]
    assert dt.availability(samples) == 0.0
    assert dt.outages(samples) == []


def test_an_outage_still_open_at_the_end_runs_to_the_last_response_and_is_marked_open():
    samples = [ok(1.0), fail(2.0, latency=1.0), fail(3.0, latency=1.0)]
    (window,) = dt.outages(samples)
    assert window.open is True
    assert window.start == 2.0 and window.end == 4.0


def test_unsorted_samples_are_ordered_by_start_time():
    samples = [ok(3.0), fail(2.0), ok(1.0)]
    (window,) = dt.outages(samples)
    assert (window.start, window.end) == (2.0, 3.0)


def test_no_samples_has_no_availability():
    assert dt.availability([]) is None
    assert dt.latency_summary([])["p99"] is None


def test_percentiles_interpolate_linearly():
    values = [float(v) for v in range(1, 101)]
    assert dt.percentile(values, 50) == pytest.approx(50.5)
    assert dt.percentile(values, 99) == pytest.approx(99.01)
    assert dt.percentile([5.0], 99) == 5.0
