"""Which release served each request: the LB's server address, mapped through the engine's tasks at that time."""

from __future__ import annotations


from harness.analysis import analyze_run_dir, attribute
from harness.analysis.attribution import address_holders
from harness.analysis.samples import Sample
from harness.journal import Event
from harness.stack import Probe, releases_by_address, served_by
from harness.testing import make_run_dir, make_service, make_task


def task(t, task_id, version, address, node="node2", service="chaos_web", state="running"):
    return Event(t, "engine.task", {"service": service, "task": task_id, "node": node, "version": version,
                                    "state": state, "addresses": [address]})


def sample(t, server="10.0.1.5:8080", backend="blue", ok=True):
    return Sample(t=t, end=t + 0.01, ok=ok, server=server if ok else None, backend=backend if ok else None)


def test_a_sample_gets_the_release_node_and_task_of_the_server_that_answered():
    events = [task(1, "a", "v1", "10.0.1.5", node="node1"), task(1, "b", "v1", "10.0.1.6", node="node3")]
    first, second = attribute([sample(2), sample(3, "10.0.1.6:8080")], events)
    assert (first.version, first.node, first.task) == ("v1", "node1", "a")
    assert (second.version, second.node, second.task) == ("v1", "node3", "b")


def test_an_address_reused_by_a_later_task_belongs_to_each_task_in_its_own_time():
    events = [task(1, "old", "v1", "10.0.1.5"), task(10, "new", "v2", "10.0.1.5", node="node3")]
    attributed = attribute([sample(5), sample(9.99), sample(10), sample(15)], events)
    assert [(s.version, s.task) for s in attributed] == [("v1", "old"), ("v1", "old"), ("v2", "new"), ("v2", "new")]


def test_repeated_events_of_one_task_do_not_end_its_hold_on_the_address():
    events = [task(1, "a", "v1", "10.0.1.5"), task(4, "a", "v1", "10.0.1.5", state="running"),
              task(6, "b", "v2", "10.0.1.5")]
    assert [(h.since, h.task) for h in address_holders(events)["10.0.1.5"]] == [(1, "a"), (6, "b")]


def test_a_sample_before_any_event_is_attributed_to_the_first_task_known_at_its_address():
    events = [task(10, "a", "v1", "10.0.1.5"), task(20, "b", "v2", "10.0.1.5")]
    (early,) = attribute([sample(3)], events)  # the watcher saw the task only after the request
    assert (early.version, early.task) == ("v1", "a")


def test_a_sample_without_a_server_or_from_an_unknown_address_stays_unattributed():
    events = [task(1, "a", "v1", "10.0.1.5")]
    failed, unknown = attribute([sample(2, ok=False), sample(2, "10.0.9.9:8080")], events)
    assert failed.server is None and (failed.version, failed.node, failed.task) == (None, None, None)
    assert (unknown.version, unknown.task) == (None, None)


def test_only_engine_task_events_with_addresses_count():
    events = [Event(1, "engine.task", {"task": "x", "version": "v1", "state": "pending", "addresses": []}),
              Event(2, "fault.inject", {"target": "node2", "addresses": ["10.0.1.5"]}),
              task(3, "a", "v2", "10.0.1.5")]
    assert list(address_holders(events)) == ["10.0.1.5"]
    assert attribute([sample(4)], events)[0].version == "v2"


def test_blue_and_green_backends_are_told_apart_by_their_tasks_addresses():
    events = [task(1, "blue-1", "v1", "10.0.1.5", service="chaos_web"),
              task(8, "green-1", "v2", "10.0.1.9", service="chaos-green_web")]
    attributed = attribute([sample(9, "10.0.1.5:8080", "blue"), sample(9, "10.0.1.9:8080", "green")], events)
    assert [(s.backend, s.version) for s in attributed] == [("blue", "v1"), ("green", "v2")]


def test_a_run_directory_is_attributed_from_its_own_journal(tmp_path):
    report = analyze_run_dir(make_run_dir(tmp_path, "r", "blue-green", outage=0.0))
    assert report["versions"]["counts"] == {"v1": 161, "v2": 40}  # 200 reads and a write; v2 from t=8 to t=12
    assert (report["versions"]["first_new"], report["versions"]["last_old"]) == (8, 19.9)


def test_the_end_of_the_previous_task_does_not_take_the_address_back_from_its_successor():
    events = [task(1, "old", "v1", "10.0.1.5"),
              task(10, "new", "v2", "10.0.1.5"),  # one poll: the new task listed before the old one's end
              task(10, "old", "v1", "10.0.1.5", state="shutdown")]
    (later,) = attribute([sample(12)], events)
    assert (later.version, later.task) == ("v2", "new")


def test_the_preview_probe_is_judged_by_the_release_of_the_task_that_answered():
    green = make_service("chaos-green_web", [make_task("node1", "v2", addresses=("10.0.2.5",)),
                                             make_task("node2", "v2", state="shutdown", addresses=("10.0.2.6",))])
    addresses = releases_by_address(green)
    assert addresses == {"10.0.2.5": "v2"}  # running tasks only
    assert served_by(Probe(200, "green", "10.0.2.5:8080"), addresses) == "v2"
    assert served_by(Probe(200, "green", "10.0.2.6:8080"), addresses) is None
    assert served_by(Probe(200, "green", None), addresses) is None
    assert served_by(None, addresses) is None
