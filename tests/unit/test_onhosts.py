"""Real hosts before ``up`` (every problem on every host at once) and at ``down`` (what is left, and a retry that
does only the rest), against fake hosts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.cluster import hostcheck, onhosts
from harness.cluster.config import ClusterState
from harness.cluster.fingerprint import Fingerprint, FingerprintRecord
from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError


class FakeHosts:
    """Hosts that answer the checks: ``survey`` lines per host, ``down`` hosts that do not answer."""

    def __init__(self, survey: dict[str, list[str]], down: set[str] = frozenset(), names: dict[str, str] = {}):
        self.survey, self.down, self.names = survey, down, names
        self.logins = {name: SimpleNamespace(user="deploy") for name in survey}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        if node in self.down:
            raise ClusterError(f"cannot log in to {node} (deploy@{node}:22): no answer in time")
        if argv == ["hostname"]:
            return ExecResult(0, self.names.get(node, node) + "\n")
        return ExecResult(0, "\n".join(self.survey[node]))

    def docker_problem(self, node: str) -> str | None:
        return None


def test_a_ready_host_has_no_problem():
    assert hostcheck.host_problems(FakeHosts({"h1": ["swarm inactive"]}), "h1") == []


def test_every_problem_on_every_host_is_listed_at_once_before_anything_is_changed():
    hosts = FakeHosts({"h1": ["missing socat", "missing iptables", "swarm active"],
                       "h2": ["swarm inactive", "trace a line in /etc/hosts: 10.0.0.1 registry # chaos-harness old",
                              "object volume chaos_db-data"],
                       "h3": ["swarm inactive"],
                       "h4": ["swarm inactive", "names 10.50.0.9 registry.corp registry"]}, down={"h3"})
    with pytest.raises(ClusterError) as refused:
        hostcheck.check_hosts(hosts, ["h1", "h2", "h3", "h4"])
    message = str(refused.value)
    assert message.startswith("the hosts are not ready; nothing was changed on them:")
    assert "h1 lacks socat, iptables, which the faults run there; install them (Debian: apt-get install " \
           "iptables socat)" in message
    assert "h1 is in a swarm already (active)" in message
    assert "h2 has a line in /etc/hosts: 10.0.0.1 registry # chaos-harness old, left by a cluster" in message
    assert "h2 has volume chaos_db-data, named like what the harness deploys" in message
    assert "cannot log in to h3" in message
    assert "h4's /etc/hosts names registry or registry-secure already (10.50.0.9 registry.corp registry)" in message


def test_swarm_existing_needs_every_host_in_a_swarm_and_a_renamed_host_is_named():
    hosts = FakeHosts({"h1": ["swarm inactive"]}, names={"h1": "staging-01"})
    problems = hostcheck.host_problems(hosts, "h1", swarm="existing")
    assert "h1 calls itself 'staging-01'; Swarm knows nodes by their hostname" in problems[0]
    assert "h1 is in no swarm (inactive), but the inventory says swarm: existing" in problems[1]


class FakeEngine:
    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.calls: list[str] = []
        self.failing = failing

    def remove_own_objects(self, stacks) -> None:
        self.calls.append("remove stacks")

    def leave(self, node: str) -> None:
        if node in self.failing:
            raise ClusterError(f"{node} refused to leave")
        self.calls.append(f"leave {node}")

    def unlabel_node(self, node: str, keys) -> None:
        self.calls.append(f"unlabel {node}")


def state() -> ClusterState:
    return ClusterState(name="c1", provider="ssh", nodes=["h1", "h2", "h3"], node_ips={}, lb_port=1, lb_admin_port=2,
                        registry_port=3, toxiproxy_port=4, node_image="", swarm_joined=["h1", "h2", "h3"])


def runner_for(down: set[str], ran: list[tuple[str, str]]):
    def runner(node: str):
        def run(argv: list[str], stdin: bytes | None) -> ExecResult:
            if node in down:
                raise ClusterError(f"cannot log in to {node}: no answer in time")
            ran.append((node, " ".join(argv)[:40]))
            return ExecResult(0, "")
        return run
    return runner


def release(current: ClusterState, engine: FakeEngine, down: set[str], ran: list, before=None) -> list[str]:
    return onhosts.release(current, engine, runner_for(down, ran), lambda: None, rollback=False, keep_swarm=False,
                           keep_data=False, before=before)


def test_a_host_that_does_not_answer_fails_its_own_steps_and_the_others_are_released():
    current, engine, ran = state(), FakeEngine(), []
    failed = release(current, engine, {"h2"}, ran)
    assert failed and all("h2" in line for line in failed)
    assert "registry set-up on h2" in "\n".join(failed) and "h2 left the swarm" in "\n".join(failed)
    assert engine.calls == ["remove stacks", "leave h3", "leave h1"]
    assert "stack containers on h1" in current.undone  # before its images and volumes can go
    assert "registry set-up on h1" in current.undone and "registry set-up on h3" in current.undone


def test_down_again_does_only_what_is_left():
    current, engine, ran = state(), FakeEngine(), []
    release(current, engine, {"h2"}, ran)
    engine.calls.clear()
    ran.clear()
    assert release(current, engine, set(), ran) == []
    assert engine.calls == ["leave h2"]
    assert {node for node, _ in ran} == {"h2"}


def test_a_step_that_fails_is_reported_and_not_recorded_as_done():
    current, engine = state(), FakeEngine(failing={"h1"})
    failed = release(current, engine, set(), [])
    assert failed == ["h1 left the swarm: h1 refused to leave"] and "h1 left the swarm" not in current.undone


def test_docker_gwbridge_is_removed_only_where_the_fingerprint_lacked_it():
    before = FingerprintRecord("c1", "", [Fingerprint("h1", {"networks": ["bridge bridge local"]}),
                                          Fingerprint("h2", {"networks": ["docker_gwbridge bridge local"]}),
                                          Fingerprint("h3", {"networks": []})])
    current, ran = state(), []
    release(current, FakeEngine(), set(), ran, before=before)
    assert [line for line in current.undone if "gwbridge" in line] == ["docker_gwbridge on h3", "docker_gwbridge on h1"]
    unrecorded = state()  # a cluster with no fingerprint: no host's docker_gwbridge is known to be the harness's
    release(unrecorded, FakeEngine(), set(), [])
    assert not [line for line in unrecorded.undone if "gwbridge" in line]


def test_hosts_for_kubernetes_are_checked_for_their_login_traces_and_the_nodes_needs_not_a_swarms():
    hosts = FakeHosts({"h1": ["missing socat", "swarm active", "object volume chaos_db-data"],
                       "h2": ["swarm inactive", "trace /run/chaos-harness", "names 10.9.9.9 registry"]},
                      names={"h1": "staging-01"})
    with pytest.raises(ClusterError) as refused:
        hostcheck.check_hosts(hosts, ["h1", "h2"], kubernetes=lambda node: [f"{node} listens on ports 6443 already"])
    assert str(refused.value).splitlines()[1:] == [
        "  - h1 listens on ports 6443 already",
        "  - h2 has /run/chaos-harness, left by a cluster of the harness: take that cluster down (chaos-harness "
        "--cluster NAME down), or remove it",
        "  - h2's /etc/hosts names registry or registry-secure already (10.9.9.9 registry); the host must reach "
        "the cluster's registries by these names and that line would win over the harness's: take the names out "
        "of it",
        "  - h2 listens on ports 6443 already"]
