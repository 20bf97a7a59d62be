"""Collecting the cluster's logs into a run directory never fails the run."""

from __future__ import annotations

from harness.cluster.logs import collect_logs
from harness.testing import FakeCluster, make_service


def test_each_node_engine_and_each_deployed_service_gets_a_file_and_an_unreadable_one_says_why(tmp_path):
    cluster = FakeCluster()
    cluster.halt_node("node2")
    cluster.engine.services = {"chaos_web": make_service("chaos_web", [])}
    written = collect_logs(cluster, ["node1", "node2"], ["chaos_web", "chaos-green_web"], 1000.0, tmp_path)

    assert written == ["logs/node1.engine.log", "logs/node2.engine.log", "logs/chaos_web.log"]
    assert (tmp_path / "logs/node1.engine.log").read_text() == "node1 dockerd since 1000\n"
    assert "could not be collected: the container of node2 is gone" in (tmp_path / "logs/node2.engine.log").read_text()
    assert (tmp_path / "logs/chaos_web.log").read_text() == "chaos_web since 1000\n"
    assert not (tmp_path / "logs/chaos-green_web.log").exists()  # not deployed: no file


def test_a_bug_in_reading_one_log_is_written_down_and_the_others_are_still_collected(tmp_path):
    cluster = FakeCluster()
    cluster.engine.services = {"chaos_web": make_service("chaos_web", [])}
    cluster.engine_log = lambda node, since: ", ".join(["a", None])  # a TypeError, as a client library may raise
    written = collect_logs(cluster, ["node1"], ["chaos_web"], 1000.0, tmp_path)
    assert written == ["logs/node1.engine.log", "logs/chaos_web.log"]
    assert "could not be collected (TypeError: sequence item 1" in (tmp_path / "logs/node1.engine.log").read_text()
