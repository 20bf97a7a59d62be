"""The load's schedule: steadiness figures over samples, the in-flight bound, and the rate limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.analysis.samples import Sample
from harness.analysis.steadiness import per_second_counts, steadiness
from harness.load import MAX_IN_FLIGHT, MAX_RATE
from harness.errors import UsageError
from harness.load.runner import LoadProcess, in_flight_bound, users_for
from harness.report.text import steadiness_rows
from harness.scenario import Scenario


def sent(times: list[float], lateness: float = 0.0) -> list[Sample]:
    return [Sample(t=t + lateness, end=t + lateness + 0.002, ok=True, due=t) for t in times]


def test_a_schedule_held_exactly_is_steady_with_no_lag():
    figures = steadiness(sent([i / 50 for i in range(50 * 10)]), 50)
    assert figures.achieved == 50 and figures.cv == 0 and figures.seconds == 9
    assert figures.lag_max == 0 and figures.steady is True and figures.resolution == 0.02


def test_a_rate_that_alternates_between_seconds_shows_in_the_cv():
    # 40 requests in even seconds, 60 in odd ones: what a fixed per-user schedule did at 50/s
    times = [second + i / count for second in range(10) for count in [40 if second % 2 == 0 else 60]
             for i in range(count)]
    figures = steadiness(sent(times), 50)
    assert figures.cv == pytest.approx(0.2, abs=0.01) and figures.steady is False


def test_lag_is_measured_from_the_due_time_and_an_under_delivered_rate_is_not_steady():
    figures = steadiness(sent([i / 100 for i in range(500)], lateness=0.25), 200)
    assert figures.lag_p50 == pytest.approx(0.25) and figures.lag_p99 == pytest.approx(0.25)
    assert figures.achieved == pytest.approx(100) and figures.steady is False


def test_samples_without_due_times_have_no_lag_and_a_short_load_no_verdict():
    figures = steadiness([Sample(t=0.1, end=0.2, ok=True)], 10)
    assert figures.lag_p99 is None and figures.cv is None and figures.steady is None
    assert per_second_counts([]) == [] and steadiness([], 10).achieved is None


def test_the_harness_schedules_with_one_user_and_a_locustfile_of_the_users_own_gets_enough_users():
    assert users_for(1000, 1.0, own_schedule=True) == 1
    assert users_for(1000, 1.0, own_schedule=False) == in_flight_bound(1000, 1.0) == 2010
    assert in_flight_bound(MAX_RATE, MAX_IN_FLIGHT / MAX_RATE) <= 2 * MAX_IN_FLIGHT + 10


def test_rates_up_to_the_limit_are_valid_and_beyond_it_or_too_many_in_flight_are_refused():
    assert Scenario(name="s", load={"rate": 1000}).load.rate == 1000
    with pytest.raises(ValidationError, match="less than or equal to 5000"):
        Scenario(name="s", load={"rate": 6000})
    with pytest.raises(ValidationError, match="requests waiting at once .* lower the rate or the timeout"):
        Scenario(name="s", load={"rate": 1000, "timeout": "10s"})


def test_the_summary_says_when_the_machine_did_not_hold_the_rate():
    held = steadiness(sent([i / 50 for i in range(500)]), 50).as_dict()
    short = steadiness(sent([i / 100 for i in range(500)], lateness=0.25), 200).as_dict()
    assert steadiness_rows({"steadiness": held}) == [
        ("load steadiness", "50.0/s sent of 50/s asked, per-second CV 0.0%, schedule lag p99 0ms")]
    assert steadiness_rows({"steadiness": short})[0][1].startswith("NOT STEADY: this machine did not hold the rate")
    assert steadiness_rows({}) == []  # a report from before steadiness was measured


@pytest.mark.parametrize("host", ["http://10.0.0.12:8080", "http://example.com", "http://0.0.0.0:8080"])
def test_load_targets_only_loopback_and_the_clusters_own_nodes(tmp_path, host):
    with pytest.raises(UsageError, match="loopback or the cluster's own nodes"):
        LoadProcess(host, tmp_path, 50, 1.0, 0.0, 10, {}, own_hosts={"10.0.0.11"})


@pytest.mark.parametrize("host", ["http://127.0.0.1:18080", "http://10.0.0.11:8080"])
def test_load_may_target_loopback_and_a_node_of_the_cluster(tmp_path, host):
    load = LoadProcess(host, tmp_path, 50, 1.0, 0.0, 10, {}, own_hosts={"10.0.0.11"})
    assert load.host == host
