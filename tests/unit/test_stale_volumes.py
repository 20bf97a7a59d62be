"""Volumes of the stack left on nodes where the services that mount them no longer run: found, removed, audited."""

from __future__ import annotations

from harness import audit
from harness.audit import Leftover
from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError
from harness.stack.volumes import StaleVolume, clear_stale_volumes, stale_volumes
from harness.testing import FakeCluster, make_service, make_task


class Nodes(FakeCluster):
    """Each node's volumes of the stacks (name -> whether a running container mounts it), and the manager's
    service specs (service -> the volumes it mounts), answered to the commands the harness runs."""

    def __init__(self, volumes: dict[str, dict[str, bool]], mounts: dict[str, list[str]]) -> None:
        super().__init__()
        self.volumes, self.mounts, self.unreachable = volumes, mounts, set()

    def exec(self, node, argv, stdin=None):
        self.commands.append((node, argv))
        if node in self.unreachable:
            raise ClusterError(f"{node} does not answer")
        what, args = argv[3], argv[4:]
        if what == "mounts":
            return ExecResult(0, "".join(f"{s} {' '.join(v)}\n" for s, v in self.mounts.items()))
        if what == "volumes":
            return ExecResult(0, "".join(f"{v}\n" for v, used in self.volumes.get(node, {}).items() if not used))
        return ExecResult(0, "".join(self._remove(node, volume) for volume in args))

    def _remove(self, node: str, volume: str) -> str:
        if volume == "chaos_locked":
            return f"failed {volume} Error response from daemon: remove {volume}: volume is in use\n"
        del self.volumes[node][volume]
        return f"removed {volume}\n"


def moved_db() -> Nodes:
    """The db moved from node3 to node2: its old volume on node3 is stale, the new one on node2 in use."""
    cluster = Nodes({"node2": {"chaos_dbdata": True}, "node3": {"chaos_dbdata": False}},
                    {"chaos_db": ["chaos_dbdata"], "chaos_web": []})
    cluster.engine.services = {"chaos_db": make_service("chaos_db", [make_task("node2"), make_task(
        "node3", state="shutdown", desired="shutdown")], replicas=1)}
    return cluster


def test_the_volume_a_moved_stateful_service_left_behind_is_stale_and_the_one_it_uses_is_not():
    cluster = moved_db()
    assert stale_volumes(cluster.exec, cluster.engine) == [
        StaleVolume("node3", "chaos_dbdata", ("chaos_db",), ("node2",))]
    assert str(stale_volumes(cluster.exec, cluster.engine)[0]) == \
        "node3: stale volume chaos_dbdata (chaos_db runs on node2)"


def test_a_volume_where_a_task_of_its_service_is_placed_is_never_stale_even_between_two_containers():
    cluster = moved_db()
    cluster.volumes["node2"]["chaos_dbdata"] = False  # the db restarting: no running container mounts it just now
    assert [v.node for v in stale_volumes(cluster.exec, cluster.engine)] == ["node3"]


def test_prepare_removes_the_stacks_stale_volumes_and_keeps_another_apps_data():
    cluster = moved_db()
    cluster.volumes["node1"] = {"chaos_pgdata": False}  # another app's, from an earlier run: its data, not stale
    cleared = clear_stale_volumes(cluster.exec, cluster.engine)
    assert [(v.node, v.volume, v.removed) for v in cleared] == [("node3", "chaos_dbdata", True)]
    assert cluster.volumes == {"node1": {"chaos_pgdata": False}, "node2": {"chaos_dbdata": True}, "node3": {}}
    assert [str(v) for v in cleared] == ["node3: stale volume chaos_dbdata (chaos_db runs on node2): removed"]
    assert cleared[0].record() == {"node": "node3", "volume": "chaos_dbdata", "users": ["chaos_db"],
                                   "runs_on": ["node2"], "removed": True, "error": ""}
    assert clear_stale_volumes(cluster.exec, cluster.engine) == []  # nothing else left


def test_a_volume_that_cannot_be_removed_says_why_and_a_node_that_cannot_be_asked_is_left_out():
    cluster = Nodes({"node1": {"chaos_locked": False}, "node3": {"chaos_dbdata": False}},
                    {"chaos_db": ["chaos_dbdata", "chaos_locked"]})
    cluster.engine.services = {"chaos_db": make_service("chaos_db", [make_task("node2")], replicas=1)}
    cluster.unreachable = {"node3"}
    (locked,) = clear_stale_volumes(cluster.exec, cluster.engine)
    assert (locked.node, locked.removed) == ("node1", False)
    assert locked.what.endswith("could not be removed (Error response from daemon: remove chaos_locked: volume is "
                                "in use)")


def test_audit_lists_stale_volumes_of_a_cluster_that_is_up_and_says_when_it_cannot_check():
    cluster = moved_db()
    assert audit._stale_volumes(cluster) == [Leftover("node3", "stale volume chaos_dbdata (chaos_db runs on node2)")]
    cluster.unreachable = {"node1"}  # the manager
    assert audit._stale_volumes(cluster) == [Leftover("volumes", "cannot be checked: node1 does not answer")]


def test_the_volumes_of_a_service_that_runs_nowhere_are_reported_but_kept():
    cluster = moved_db()
    cluster.engine.services["chaos_db"] = make_service("chaos_db", [], replicas=1)  # no task placed anywhere
    cluster.volumes["node2"]["chaos_dbdata"] = False
    cleared = clear_stale_volumes(cluster.exec, cluster.engine)
    assert [(v.node, v.removed) for v in cleared] == [("node2", None), ("node3", None)]
    assert cleared[0].what == "stale volume chaos_dbdata (chaos_db runs on no node)"
    assert set(cluster.volumes["node3"]) == {"chaos_dbdata"}
