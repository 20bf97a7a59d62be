"""A bigger cluster with several managers (`--nodes 5 --managers 3`): losing a standby manager is a scenario."""

from __future__ import annotations

import pytest

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.runner import Runner
from tests.integration.test_end_to_end import events_of, shortened

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    handle = Cluster(ClusterConfig(name="chaos-five", nodes=5, managers=3,
                                   workdir=tmp_path_factory.mktemp("chaos-home-five")))
    try:
        handle.up()
        yield handle
    finally:
        handle.down()


def test_five_nodes_form_a_swarm_with_three_managers(five):
    nodes = five.engine.nodes()
    assert sorted(n.hostname for n in nodes) == [f"node{i}" for i in range(1, 6)]
    assert sorted(n.hostname for n in nodes if n.role == "manager") == ["node1", "node2", "node3"]
    assert all(n.state == "ready" for n in nodes)


def test_halting_a_standby_manager_mid_upgrade_leaves_the_swarm_in_charge(five, tmp_path):
    demo = App.prepare(load_profile(DEFAULT_PROFILE), five.builder, ["old", "new"])
    result = Runner(shortened("manager-halt", warmup=5, observe=8, verify_window=5), five, tmp_path, demo).run()
    (inject,) = events_of(result.run_dir, "fault.inject")
    assert inject.get("target") in ("node2", "node3"), inject  # a manager, not the load balancer's
    downs = [e for e in events_of(result.run_dir, "engine.node_state")
             if e.get("node") == inject.get("target") and e.get("state") == "down"]
    assert downs, "the remaining managers never saw the halted manager down"
    assert result.report["upgrade"]["outcome"] == "completed", result.report["upgrade"]
    assert result.report["passed"], [v for v in result.report["verdicts"] if not v["passed"]]
