"""A host port held on a node for port-conflict, each engine's way: a squatter process on Swarm, a pod with the
hostPort on Kubernetes; and the throwaway task that shows whether a published port can run there."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kubernetes.client.rest import ApiException

from harness.engine.kubernetes.engine import KubernetesEngine
from harness.engine.swarm import SwarmEngine
from harness.errors import EngineError


def swarm(answer) -> tuple[SwarmEngine, list]:
    asked: list = []

    def run_on(node: str, argv: list[str], stdin: bytes | None) -> str:
        asked.append((node, argv))
        return answer(argv)
    return SwarmEngine(["node1", "node2"], lambda node: None, "node1", run_on), asked


def test_swarm_reads_each_squatter_and_whether_it_is_in_effect_on_the_node():
    engine, asked = swarm(lambda argv: "8081 held\n8082 idle\n")
    assert engine.port_holds("node2") == {8081: True, 8082: False}
    engine.hold_port("node2", 8081)
    engine.release_port("node2", 8081)
    assert [(node, argv[3:]) for node, argv in asked] == [("node2", ["holds"]), ("node2", ["hold", "8081"]),
                                                         ("node2", ["release", "8081"])]


def refusing(message: str):
    def answer(argv: list[str]) -> str:
        raise EngineError(f"`docker run` failed on node2: {message}")
    return answer


def test_swarm_says_a_port_is_refused_only_for_address_in_use_and_raises_on_any_other_failure():
    assert swarm(lambda argv: "")[0].port_refused("node2", 8081, "lb:1") == ""
    taken = swarm(refusing("bind: address already in use"))[0].port_refused("node2", 8081, "lb:1")
    assert "address already in use" in taken
    with pytest.raises(EngineError, match="manifest unknown"):
        swarm(refusing("manifest unknown"))[0].port_refused("node2", 8081, "lb:1")


def missing() -> ApiException:
    return ApiException(status=404, reason="Not Found")


class Core:
    """The slice of CoreV1Api the fault methods use: one namespace, its pods, a node that lists its images; the
    scheduler places a pod unless another on its node holds the same hostPort."""

    def __init__(self) -> None:
        self.namespace: str | None = None
        self.pods: dict[str, dict] = {}
        self.deleted: list[tuple[str, int | None]] = []

    def read_namespace(self, name, **_):
        if self.namespace is None:
            raise missing()
        return SimpleNamespace(status=SimpleNamespace(phase=self.namespace))

    def create_namespace(self, body):
        self.namespace = "Active"

    def delete_namespace(self, name):
        self.namespace = None

    def read_namespaced_service_account(self, name, namespace):
        return SimpleNamespace()

    held = ["docker.io/chaos-harness/pause:0123abcd"]  # the images the node lists beside the app's

    def read_node(self, name, **_):
        images = [SimpleNamespace(names=["registry:5000/chaos/demo/web:v1"]), SimpleNamespace(names=self.held)]
        return SimpleNamespace(status=SimpleNamespace(images=images))

    def create_namespaced_pod(self, namespace, body):
        name = body["metadata"].get("name") or body["metadata"]["generateName"] + "x1"
        self.pods[name] = body
        return SimpleNamespace(metadata=SimpleNamespace(name=name))

    def read_namespaced_pod(self, name, namespace, **_):
        if name not in self.pods:
            raise missing()
        body = self.pods[name]
        port = body["spec"]["containers"][0]["ports"][0]["hostPort"]
        taken = any(other["spec"].get("nodeName") and other["spec"]["containers"][0]["ports"][0]["hostPort"] == port
                    for key, other in self.pods.items() if key != name)
        condition = SimpleNamespace(type="PodScheduled", status="False" if taken else "True",
                                    reason="Unschedulable" if taken else None,
                                    message="0/3 nodes are available: 1 node(s) didn't have free ports for the "
                                            "requested pod ports." if taken else None)
        return SimpleNamespace(metadata=SimpleNamespace(name=name, labels=body["metadata"]["labels"],
                                                        deletion_timestamp=None),
                               status=SimpleNamespace(phase="Running", conditions=[condition]))

    def list_namespaced_pod(self, namespace, label_selector="", **_):
        wanted = dict(term.split("=") for term in label_selector.split(",") if term)
        return SimpleNamespace(items=[self.read_namespaced_pod(name, namespace) for name, body in self.pods.items()
                                      if wanted.items() <= body["metadata"]["labels"].items()])

    def delete_namespaced_pod(self, name, namespace, grace_period_seconds=None):
        self.deleted.append((name, grace_period_seconds))
        if self.pods.pop(name, None) is None:
            raise missing()


def kubernetes(core: Core) -> KubernetesEngine:
    class Engine(KubernetesEngine):
        _core = property(lambda self: core)
    return Engine(kubeconfig=None)


def test_kubernetes_holds_a_port_with_a_pod_bound_to_the_node_and_gives_it_back_with_its_namespace():
    core = Core()
    engine = kubernetes(core)
    assert engine.port_holds("node2") == {} and engine.port_refused("node2", 8081, "lb:1") == ""
    assert core.pods == {} and core.namespace is None  # the probe left nothing behind
    engine.hold_port("node2", 8081)
    engine.hold_port("node2", 8081)  # held already: nothing more
    (pod,) = core.pods.values()
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "chaos-harness"
    assert pod["spec"]["nodeName"] == "node2"
    assert pod["spec"]["containers"] == [{"name": "hold", "image": "docker.io/chaos-harness/pause:0123abcd",
                                          "imagePullPolicy": "Never", "ports": [
                                              {"containerPort": 8081, "hostPort": 8081, "protocol": "TCP"}]}]
    assert engine.port_holds("node2") == {8081: True} and engine.port_holds("node3") == {}
    assert "didn't have free ports" in engine.port_refused("node2", 8081, "lb:1")
    engine.release_port("node2", 8081)
    engine.release_port("node2", 8081)  # healed again after a crash: nothing to do
    assert core.pods == {} and core.namespace is None and engine.port_holds("node2") == {}


@pytest.mark.parametrize("held, image", [
    (["registry.k8s.io/pause@sha256:ee6521f2", "registry.k8s.io/pause:3.10"], "registry.k8s.io/pause:3.10"),
    (["registry:5000/chaos/demo/web:v2"], None)])
def test_on_a_cluster_the_harness_did_not_make_a_port_is_held_with_its_sandbox_image(held, image):
    core = Core()
    core.held = held
    engine = kubernetes(core)
    if image is None:
        with pytest.raises(EngineError, match="lists no pause image"):
            engine.hold_port("node2", 8081)
        return
    engine.hold_port("node2", 8081)
    (pod,) = core.pods.values()
    assert pod["spec"]["containers"][0]["image"] == image
