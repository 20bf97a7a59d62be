"""Kubernetes on an inventory's hosts: the node container each host runs, what is checked before it, and how
it is taken off the host again, against a fake host."""

from __future__ import annotations

import gzip

import pytest

from harness.cluster.kubehosts import CLEAN_HOST_NETWORK, KubeNodesOnHosts, container_name, release_nodes, start_nodes
from harness.engine.kubernetes.bootstrap import ClusterPlan
from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError


class FakeHost:
    """One host ``h1``: records every command; ``answers`` maps a command's first words to its result."""

    def __init__(self, answers: dict[tuple[str, ...], ExecResult]) -> None:
        self.answers, self.ran = answers, []
        self.logins = {"h1": object()}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None, timeout: float = 0) -> ExecResult:
        self.ran.append((argv, stdin))
        for words, result in self.answers.items():
            if tuple(argv[:len(words)]) == words:
                return result
        return ExecResult(0, "")


MISSING = ExecResult(1, "Error: No such object")


def nodes(answers: dict) -> tuple[KubeNodesOnHosts, FakeHost]:
    host = FakeHost(answers)
    return KubeNodesOnHosts(host, "staging", "10.0.0.1"), host


def test_the_node_runs_on_the_hosts_network_unprivileged_and_resolves_the_registries_itself():
    argv = nodes({})[0].run_argv("chaos-harness/kube-node:abc")
    assert argv[:4] == ["docker", "run", "--detach", "--name"] and argv[4] == container_name("staging")
    assert ["--network", "host"] == argv[5:7] and "--privileged" not in argv
    assert "registry:10.0.0.1" in argv and "registry-secure:10.0.0.1" in argv
    assert "io.chaos-harness.cluster=staging" in argv and argv[-1] == "chaos-harness/kube-node:abc"


def test_the_image_is_copied_only_to_a_host_that_lacks_it_and_the_container_made_once():
    lacking, host = nodes({("docker", "image", "inspect"): MISSING, ("docker", "inspect"): MISSING})
    lacking.start("h1", "img:1", lambda: b"archive")
    assert [argv[:2] for argv, _ in host.ran] == [["docker", "image"], ["docker", "load"], ["docker", "inspect"],
                                                  ["docker", "run"]]
    assert host.ran[1][1] == b"archive"
    stopped, host = nodes({("docker", "inspect"): ExecResult(0, "staging false\n")})
    stopped.start("h1", "img:1", lambda: b"archive")
    assert [argv[:2] for argv, _ in host.ran] == [["docker", "image"], ["docker", "inspect"], ["docker", "start"]]


def test_a_container_by_the_nodes_name_that_is_not_the_clusters_is_never_adopted():
    theirs, host = nodes({("docker", "inspect"): ExecResult(0, " true\n")})
    with pytest.raises(ClusterError, match="not this cluster's; it is never adopted"):
        theirs.start("h1", "img:1", lambda: b"")
    assert not any(argv[:2] in (["docker", "run"], ["docker", "start"]) for argv, _ in host.ran)


def test_release_removes_the_container_then_cleans_the_hosts_network_with_its_image_then_removes_the_image():
    node, host = nodes({})
    node.release("h1", "img:1", ["10.244.2.0/24 via 10.0.0.12"])
    ran = [argv for argv, _ in host.ran]
    assert ran[1] == ["docker", "rm", "--force", "--volumes", container_name("staging")]
    clean = ran[3]
    assert clean[:2] == ["docker", "run"] and "img:1" in clean and CLEAN_HOST_NETWORK in clean
    assert clean[-1] == "10.244.2.0/24 via 10.0.0.12" and ran[4] == ["docker", "image", "rm", "img:1"]


def test_release_of_a_host_already_released_does_nothing():
    node, host = nodes({("docker", "inspect"): MISSING, ("docker", "image", "inspect"): MISSING})
    node.release("h1", "img:1", [])
    assert [argv[:3] for argv, _ in host.ran] == [["docker", "inspect", container_name("staging")],
                                                  ["docker", "image", "inspect"]]


def test_a_failed_step_of_the_release_names_the_host_and_the_step():
    node, _ = nodes({("docker", "rm"): ExecResult(1, "device or resource busy")})
    with pytest.raises(ClusterError, match="h1: cannot remove the node container .*device or resource busy"):
        node.release("h1", "img:1", [])


def test_commands_for_the_node_run_in_its_container_and_the_hosts_on_the_host():
    node, host = nodes({})
    node.exec("h1", ["pidof", "kubelet"], b"in")
    node.host_exec("h1", ["hostname"])
    assert host.ran == [(["docker", "exec", "-i", container_name("staging"), "pidof", "kubelet"], b"in"),
                        (["hostname"], None)]


def test_every_reason_a_host_cannot_take_a_node_is_named_with_what_to_do():
    survey = ExecResult(0, "missing the device /dev/kmsg (the kubelet reads the kernel's messages)\n"
                           "other Kubernetes firewall chains (KUBE-, CNI-)\n"
                           f"named a container named {container_name('staging')}\ntaken port 6443\ntaken port 8080\n")
    node, _ = nodes({("sh", "-c"): survey})
    problems = node.host_problems("h1")
    assert problems[0] == "h1 is missing the device /dev/kmsg (the kubelet reads the kernel's messages)"
    assert "h1 has Kubernetes firewall chains (KUBE-, CNI-): it is a node of another Kubernetes cluster" in problems[1]
    assert f"h1 has a container named {container_name('staging')} already" in problems[2]
    assert problems[3].startswith("h1 listens on ports 6443, 8080 already")
    assert nodes({})[0].host_problems("h1") == []


def test_the_image_is_saved_once_for_every_host_that_lacks_it_and_a_host_that_fails_its_release_is_named():
    node, host = nodes({("docker", "image", "inspect"): MISSING, ("docker", "inspect"): MISSING})
    host.logins = {"h1": object(), "h2": object(), "h3": object()}
    saves = []
    start_nodes(node, ["h1", "h2", "h3"], "img:1", lambda: saves.append(1) or b"tar")
    loads = [stdin for argv, stdin in host.ran if argv[:2] == ["docker", "load"]]
    assert saves == [1] and len(loads) == 3 and gzip.decompress(loads[0]) == b"tar"
    failing, _ = nodes({("docker", "rm"): ExecResult(1, "busy")})
    plan = ClusterPlan("staging", {"h1": "10.0.0.11", "h2": "10.0.0.12"}, "h1", (), "")
    assert [line.split(":")[0] for line in release_nodes(failing, plan, "img:1")] == [
        "the Kubernetes node on h1", "the Kubernetes node on h2"]
