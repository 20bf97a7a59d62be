"""moving-stateful-db leaves the db's volume on the node it left: audit lists it, the next prepare removes it."""

from __future__ import annotations

import pytest

from harness.audit import Leftover, cluster_leftovers
from harness.runner import Runner
from harness.scenario import Stack
from harness.stack import BLUE, router
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait
from harness.stack.volumes import stale_volumes
from tests.integration.test_end_to_end import events_of, shortened

pytestmark = pytest.mark.docker
DB, VOLUME = BLUE.service("db"), f"{BLUE.stack}_dbdata"


def created_at(cluster, node: str) -> str | None:
    """When the db's volume on ``node`` was made; None when it has none."""
    result = cluster.exec(node, ["docker", "volume", "inspect", "--format", "{{.CreatedAt}}", VOLUME])
    return result.output.strip() if result.ok else None


def db_nodes(cluster) -> set[str]:
    return {task.node for task in cluster.engine.service(DB).running()}


def test_the_volume_a_moved_db_left_is_audited_and_the_next_prepare_starts_without_it(cluster, demo, tmp_path):
    result = Runner(shortened("moving-stateful-db", warmup=8, observe=10, verify_window=5), cluster, tmp_path,
                    demo).run()
    (inject,) = events_of(result.run_dir, "fault.inject")
    left, (moved_to,) = inject.get("target"), db_nodes(cluster)  # the db's node halted; Swarm moved the db
    assert moved_to != left, "the db did not move off the node that halted"
    left_at = created_at(cluster, left)
    assert left_at is not None, f"the db's volume on {left} is gone already"

    stale = [(v.node, v.volume, v.users, v.runs_on) for v in stale_volumes(cluster.exec, cluster.engine)]
    assert stale == [(left, VOLUME, (DB,), (moved_to,))]
    assert Leftover(left, f"stale volume {VOLUME} ({DB} runs on {moved_to})") in cluster_leftovers(cluster)

    stack = stack_for(cluster, demo, Stack())  # pinned to the stateful node again, as every other scenario
    cleared = deploy_and_wait(cluster.engine, router(cluster.state.lb_admin), stack, run_on=cluster.exec)
    assert (left, VOLUME, True) in [(v.node, v.volume, v.removed) for v in cleared], [str(v) for v in cleared]
    assert db_nodes(cluster) == {cluster.stateful_node}
    assert created_at(cluster, left) != left_at, "the volume the db left is still there"
    assert not [v for v in stale_volumes(cluster.exec, cluster.engine) if v.node == left]
