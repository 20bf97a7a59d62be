"""The harness's ``Engine`` for Kubernetes, through the official Python client.

A stack is a namespace; a service ``<stack>_<name>`` is the Deployment ``name`` in it (``translate``). A task is
a pod, its state worded as Swarm words a task's (an image that cannot be pulled: ``rejected``; a container
that keeps failing: ``failed``).

Kubernetes has no failure action: a rollout whose progress deadline passes is only marked so. The harness
plays Swarm's part: each change records its failure action on the Deployment, and when the deadline passes
``pause`` pauses the rollout and ``rollback`` performs the undo (the previous ReplicaSet's template, as
``kubectl rollout undo`` does), which the update message says was the harness's doing, not the engine's.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from harness.engine import FORMS
from harness.engine.base import (
    Discovery, EngineObject, NodeRuntime, NodeInfo, RegistryAuth, ServiceSnapshot, TaskInfo, UpdatePolicy, UpdateState)
from harness.engine.kubernetes.bootstrap import CLUSTER_DNS, CLUSTER_DOMAIN
from harness.engine.kubernetes.api import UNANSWERED, api_client, call, exists, is_ready
from harness.engine.kubernetes.faultpods import OWN_NAMESPACES, FaultPods
from harness.engine.kubernetes.placement import HOSTNAME, KeptLabels
from harness.engine.kubernetes.translate import (
    CONTROL_PLANE, MANAGED_BY, PROBE_SOURCE, UPGRADED_CONTAINER, ImageConfig, claims_on_host,
    host_directories_as_scratch, image_probe, pod_spec, rolling_update, stack_objects)
from harness.errors import ClusterError, EngineError, ServiceMissing
from harness.waiting import wait_until

__all__ = ["KubernetesEngine"]

CHANGE = "chaos-harness.io/change"  # update or rollback: the last change the harness asked for
CHANGE_STARTED = "chaos-harness.io/change-started-at"  # when (epoch seconds)
FAILURE_ACTION = "chaos-harness.io/failure-action"  # what the harness does when the progress deadline passes
UNDONE_BY_HARNESS = "chaos-harness.io/undone-by-harness"
APPLIED = "chaos-harness.io/applied"  # on a stack's namespace: what its last deploy applied (JSON)
REVISION = "deployment.kubernetes.io/revision"
PULL_SECRET = "chaos-registry-auth"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
FIELD_MANAGER = "chaos-harness"
_PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
_IMMUTABLE = ("field is immutable", "may not change once set")  # the API refusing a change it cannot make in place


# The containers of a service (<namespace>_<deployment>) whose processes still run, read from containerd's task
# bundles (the CRI's annotations) and the kernel, not from containerd: a frozen one cannot answer. A Deployment's
# pods are named <deployment>-<template hash>-<suffix>; the container that counts runs the image of the service's
# own repository (.../<deployment>:<release>), not a sidecar's (.../<deployment>/<container>:...); service-switch's
# green Deployment <deployment>-green runs <deployment>'s. `containers SERVICE` prints "<pid> <bundle> <image>" for
# each.
_CONTAINERS = r"""
containers() {
  namespace=${1%%_*} name=${1#*_}
  repository=${name%-green}
  for bundle in /run/containerd/io.containerd.runtime.v2.task/k8s.io/*; do
    config=$bundle/config.json
    [ -f "$config" ] || continue
    grep -q "\"io.kubernetes.cri.sandbox-namespace\":\"$namespace\"" "$config" || continue
    grep -Eq "\"io.kubernetes.cri.sandbox-name\":\"$name-[a-z0-9]+-[a-z0-9]+\"" "$config" || continue
    image=$(grep -o '"io.kubernetes.cri.image-name":"[^"]*"' "$config" | sed 's/^[^:]*:"//; s/"$//')
    case "$image" in */"$repository":*|*/"$repository"@*) ;; *) continue ;; esac
    pid=$(cat "$bundle/init.pid" 2>/dev/null) && [ -d "/proc/$pid" ] || continue
    echo "$pid $bundle $image"
  done
}
"""
_CENSUS = _CONTAINERS + 'containers "$1" | cut -d " " -f 3\n'
# Kills (SIGKILL) one of them and prints its pod's uid (the task's id).
_KILL = _CONTAINERS + r"""
found=$(containers "$1" | head -n 1)
[ -n "$found" ] || { echo "no running container of $1" >&2; exit 1; }
set -- $found
kill -9 "$1" || exit 1
grep -o '"io.kubernetes.cri.sandbox-uid":"[^"]*"' "$2/config.json" | sed 's/^[^:]*:"//; s/"$//'
"""
# The harness's own pods that are faults (a host port held) and its probes: a namespace of their own, gone when empty.
_FAULTS_NAMESPACE = "chaos-faults"
# A service named after its stack (chaos_web) renamed after the stack's namespace, before a node script reads it.
_RENAMED = 'case "$1" in\n{cases}esac\n'
# An image goes under every name containerd keeps it by (its tag, its digest, its ID: all with the same target),
# synchronously, so that its content goes too (what no other image shares) and the next start must pull.
_FORGET = r"""
for image; do
  target=$(ctr -n k8s.io images ls 2>/dev/null | awk -v ref="$image" '$1 == ref {print $3}')
  [ -n "$target" ] || continue
  ctr -n k8s.io images rm --sync $(ctr -n k8s.io images ls 2>/dev/null | awk -v t="$target" '$3 == t {print $1}') \
    >/dev/null 2>&1
done
true
"""

# containerd has no login: the registry's API root asked with the credentials (plain HTTP, as the nodes pull),
# its status line printed. Nothing is stored.
_LOGIN = r"""
token=$(printf '%s:%s' "$2" "$(cat)" | base64 -w0)
printf 'GET /v2/ HTTP/1.0
Host: %s
Authorization: Basic %s

' "$1" "$token" | socat -t5 - "TCP:$1" | head -n 1
"""


class KubernetesEngine:
    """A Kubernetes cluster reached with an admin kubeconfig."""

    # the cluster's DNS; a headless Service's name resolves to its ready pods' addresses
    discovery = Discovery(f"{CLUSTER_DNS}:53", "{service}.{stack}.svc." + CLUSTER_DOMAIN)
    overlay_port = None  # pod subnets are routed between the nodes
    forms = FORMS["kubernetes"]
    runtime = NodeRuntime(frozen=("kubelet", "containerd"), crashed=("kubelet", "containerd"),
                          answers=("ctr", "version"), census=_CENSUS, kill=_KILL, forget=_FORGET,
                          pull=_FORGET + 'timeout 8 ctr -n k8s.io images pull --plain-http "$1"',
                          pull_area="/var/lib/containerd/io.containerd.content.v1.content/ingest", login=_LOGIN)

    def __init__(self, kubeconfig: Path, image_config: ImageConfig = lambda _: {}, context: str = "",
                 discovery: Discovery | None = None, kept_labels: KeptLabels | None = None,
                 namespaces: dict[str, str] | None = None, node_ports: dict[int, int] | None = None) -> None:
        """``context``: the kubeconfig's context to use ("": its current one); ``discovery``: the cluster's DNS
        when it is not the one the harness's clusters have; ``kept_labels``: on a cluster that is not the harness's,
        its node labels are kept there, never set on the nodes (``placement``); ``namespaces``: a stack's namespace
        where it is not named as the stack (``chaos`` -> ``team-a``), also for the fault pods' ``chaos-faults``;
        ``node_ports``: a published port -> the NodePort that exposes it instead of a hostPort."""
        self._kubeconfig = kubeconfig
        self._node_ports = node_ports or {}
        self._context = context
        self._image_config = image_config
        self._kept = kept_labels
        self._namespaces = namespaces or {}
        self._fault_pods = FaultPods(lambda: self._core, self._namespace(_FAULTS_NAMESPACE))
        self.discovery = replace(discovery or self.discovery, namespaces=tuple(self._namespaces.items()))
        if self._namespaces:  # the nodes' scripts find a service's containers by its namespace
            renamed = _RENAMED.format(cases="".join(f'  {stack}_*) set -- "{namespace}_${{1#{stack}_}}" ;;\n'
                                                    for stack, namespace in self._namespaces.items()))
            self.runtime = replace(self.runtime, census=renamed + self.runtime.census, kill=renamed + self.runtime.kill)
        self._api: k8s.ApiClient | None = None
        self._dynamic: DynamicClient | None = None
        self._objects: dict[str, EngineObject] = {}

    @property
    def api(self) -> k8s.ApiClient:
        if self._api is None:
            self._api = api_client(self._kubeconfig, self._context)
        return self._api

    @property
    def dynamic(self) -> DynamicClient:
        """A client of any kind of object (it learns the API's kinds once, when first asked)."""
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    @property
    def _core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    @property
    def _apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.api)

    # -- nodes -------------------------------------------------------------------

    def version(self) -> str:
        """``Kubernetes`` and the API server's version."""
        code = call(lambda: k8s.VersionApi(self.api).get_code(_request_timeout=10),
                          "ask the API server its version")
        return f"Kubernetes {code.git_version}"

    def nodes(self) -> list[NodeInfo]:
        """Every node: Ready (``ready``) or not (``down``), cordoned (``drain``) or not, control plane or worker."""
        found = call(lambda: self._core.list_node(_request_timeout=10).items, "list the nodes")
        return [self._node_info(node) for node in found]

    def _node_info(self, node: k8s.V1Node) -> NodeInfo:
        ready, cordoned = is_ready(node), bool(node.spec.unschedulable)
        control_plane = CONTROL_PLANE in (node.metadata.labels or {})
        shown = ", ".join(("Ready" if ready else "NotReady", "SchedulingDisabled" if cordoned else "schedulable",
                           "control-plane" if control_plane else "worker"))
        kept = self._kept.of(node.metadata.name) if self._kept else {}
        return NodeInfo(hostname=node.metadata.name, state="ready" if ready else "down",
                        availability="drain" if cordoned else "active", role="manager" if control_plane else "worker",
                        labels={**(node.metadata.labels or {}), **kept}, shown=shown)

    def label_node(self, hostname: str, labels: dict[str, str]) -> None:
        if self._kept is not None:
            self._kept.set(hostname, labels)
            return
        call(lambda: self._core.patch_node(hostname, {"metadata": {"labels": labels}}), f"label {hostname}")

    def unlabel_node(self, hostname: str, keys: Iterable[str]) -> None:
        if self._kept is not None:
            self._kept.remove(hostname, keys)
            return
        patch = {"metadata": {"labels": {key: None for key in keys}}}
        call(lambda: self._core.patch_node(hostname, patch), f"unlabel {hostname}")

    # -- stacks ------------------------------------------------------------------

    def ensure_objects(self, objects: Iterable[EngineObject]) -> None:
        """Kept until a stack that names them is deployed: ConfigMaps and Secrets live in its namespace."""
        self._objects.update({o.name: o for o in objects})

    def deploy_stack(self, stack: str, compose: str, auth: RegistryAuth | None = None,
                     pin_digests: bool = True, manifests: Sequence[dict] = ()) -> None:
        """Apply the stack's objects, then ``manifests`` (the app's own Kubernetes objects) in its namespace; by
        server-side apply, so a second deploy converges, and what an earlier deploy of the stack applied but this
        one does not is deleted (as ``docker stack deploy --prune`` does). An object whose change the API refuses
        (an immutable field, such as another app's Deployment selector) is replaced. A stack that joins another's
        networks (``external``, named ``<stack>_<net>``) looks names up in that stack's namespace too. ``auth``: an
        image pull secret in the namespace, named by every pod. ``pin_digests`` is Swarm's: the kubelet pulls by
        tag."""
        search = tuple(self._namespace(joined) for joined in _joined_stacks(compose, stack))
        stack = self._namespace(stack)
        bodies = stack_objects(stack, compose, self._objects, search, self._image_config, self._node_ports)
        claims_kept = self._kept is not None and self._default_storage()  # a cluster of the user's that provisions
        own = list(manifests) if claims_kept else claims_on_host(stack, list(manifests))
        bodies += [self._probed(_in_namespace(stack, body, search)) for body in own]
        if self._kept is not None:
            bodies = self._on_users_nodes(bodies)
        namespace, objects = bodies[0], bodies[1:]
        earlier = self._applied(stack)
        namespace["metadata"]["annotations"] = {APPLIED: json.dumps(sorted({_key(body) for body in objects}))}
        self._apply(namespace)
        if auth is not None:
            self._pull_secret(stack, auth)
        for key in earlier - {_key(body) for body in objects}:
            self._delete(stack, *key)
        for body in objects:
            pod = pod_spec(body)
            if auth is not None and pod is not None:
                pod["imagePullSecrets"] = [*(s for s in pod.get("imagePullSecrets") or [] if s.get("name") !=
                                             PULL_SECRET), {"name": PULL_SECRET}]
            self._apply(body)

    def remove_stack(self, stack: str, timeout: float = 60) -> None:
        """Delete the stack's namespace and wait until it is gone (its pods stopped); EngineError when the
        namespace is not the harness's."""
        stack = self._namespace(stack)
        if self._own_namespace(stack) is None:
            return
        try:
            self._core.delete_namespace(stack)
        except ApiException as error:
            if error.status == 404:
                return
            raise EngineError(f"cannot remove the stack {stack}: {error.reason}") from error
        wait_until(lambda: not self._namespace_exists(stack), timeout=timeout, what=f"the stack {stack} removed")

    def remove_service(self, name: str) -> None:
        namespace, deployment = self._locate(name)
        for delete in (self._apps.delete_namespaced_deployment, self._core.delete_namespaced_service):
            try:
                delete(deployment, namespace)
            except ApiException as error:
                if error.status != 404:
                    raise EngineError(f"cannot remove {name}: {error.reason}") from error

    # -- services ----------------------------------------------------------------

    def service(self, name: str) -> ServiceSnapshot:
        """The Deployment's image, replicas, update state and pods; the failure action enforced on the way."""
        deployment = self._deployment(name)
        state, message = _update_state(deployment)
        annotations = deployment.metadata.annotations or {}
        if state == "paused" and annotations.get(FAILURE_ACTION) in ("pause", "rollback"):
            deployment = self._enforce_failure_action(name, deployment, annotations[FAILURE_ACTION], message)
            state, message = _update_state(deployment)
        namespace, _ = self._locate(name)
        selector = _selector(deployment)
        pods = call(lambda: self._core.list_namespaced_pod(namespace, label_selector=selector,
                                                                 _request_timeout=10).items, f"list {name}'s pods")
        pods.sort(key=lambda pod: pod.metadata.creation_timestamp)
        started = annotations.get(CHANGE_STARTED)
        container = _upgraded(deployment)
        return ServiceSnapshot(
            name=name, image=container.image,
            replicas=deployment.spec.replicas or 0, update_state=state,
            update_message=annotations.get(UNDONE_BY_HARNESS, "") or message,
            update_started_at=float(started) if started else None,
            tasks=tuple(_task(pod, slot, container.name) for slot, pod in enumerate(pods, 1)))

    def update_image(self, service: str, image: str, policy: UpdatePolicy, publish: tuple[int, int] | None = None,
                     auth: RegistryAuth | None = None, image_health: bool = False) -> None:
        """Start the Deployment's rolling update to ``image`` with the policy's fields (``translate.rolling_update``);
        ``publish`` (host port, container port) opens a hostPort. The new image's own HEALTHCHECK becomes the
        readiness probe where it was one, or with ``image_health`` (replacing the manifest's)."""
        deployment = self._deployment(service)
        upgraded = _upgraded(deployment)
        container: dict = {"name": upgraded.name, "image": image}
        if image_health or (deployment.metadata.annotations or {}).get(PROBE_SOURCE) == "image":
            probe = image_probe(self._image_config(image))
            # a probe there is replaced, not merged into (two handlers are invalid); "$patch" where there is none
            # would leave none
            container["readinessProbe"] = ({"$patch": "replace", **probe} if upgraded.readiness_probe else probe) \
                if probe else None
        if publish is not None:
            container["ports"] = [{"containerPort": publish[1], "hostPort": publish[0], "protocol": "TCP"}]
        pod_spec: dict = {"containers": [container]}
        if auth is not None:
            self._pull_secret(self._locate(service)[0], auth)
            pod_spec["imagePullSecrets"] = [{"name": PULL_SECRET}]
        self._patch(service, {"metadata": {"annotations": _change("update", policy.failure_action)},
                              "spec": {"paused": False, **rolling_update(policy), "template": {"spec": pod_spec}}})

    def force_redistribute(self, service: str) -> None:
        """``kubectl rollout restart``: every pod replaced, the scheduler spreading them again."""
        now = datetime.now(timezone.utc).isoformat()
        self._patch(service, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": now}}}}})

    def patch_service(self, stack: str, name: str, patch: dict) -> None:
        """One strategic merge patch of the Service ``name`` of ``stack`` (service-switch's switch of its selector)."""
        stack = self._namespace(stack)
        call(lambda: self._core.patch_namespaced_service(name, stack, patch, _request_timeout=10),
                   f"change the Service {name} of {stack}")

    def rollback(self, service: str) -> None:
        """The undo ``kubectl rollout undo`` performs: the template of the ReplicaSet before the current one."""
        self._undo(service, self._deployment(service), "requested")

    def service_logs(self, service: str, since: float) -> str:
        """The output of every container of the service's pods since ``since``: a Deployment's, or those of the
        StatefulSet or DaemonSet of that name (an app's own stateful workload)."""
        namespace, name = self._locate(service)
        selector = _selector(self._workload(namespace, name))
        seconds = max(1, int(time.time() - since) + 1)
        found = []
        for pod in self._core.list_namespaced_pod(namespace, label_selector=selector).items:
            for container in pod.spec.containers:
                try:
                    found.append(self._core.read_namespaced_pod_log(pod.metadata.name, namespace, since_seconds=seconds,
                                                                    container=container.name, timestamps=True))
                except ApiException:
                    continue  # a container that has not started has no log
        return "".join(found)

    # -- faults (``faultpods``) ---------------------------------------------------------

    def hold_port(self, node: str, port: int) -> None:
        self._fault_pods.hold_port(node, port)

    def release_port(self, node: str, port: int) -> None:
        self._fault_pods.release_port(node, port)

    def port_holds(self, node: str) -> dict[int, bool]:
        return self._fault_pods.port_holds(node)

    def port_refused(self, node: str, port: int, image: str) -> str:
        return self._fault_pods.port_refused(node, port, image)

    def drain_node(self, node: str) -> str:
        return self._fault_pods.drain_node(node)

    def undrain_node(self, node: str) -> None:
        self._fault_pods.undrain_node(node)

    # -- internals -----------------------------------------------------------------

    def _apply(self, body: dict) -> None:
        """Server-side apply of one object; replaced (deleted, then applied) when the API refuses the change."""
        resource = self.dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
        apply = lambda: self.dynamic.server_side_apply(resource, body=body, field_manager=FIELD_MANAGER,  # noqa: E731
                                                       force_conflicts=True)
        what = f"apply {body['kind']} {body['metadata']['name']}"
        try:
            call(apply, what)
            return
        except EngineError as error:
            refused = error.__cause__
            if not (isinstance(refused, ApiException) and refused.status == 422
                    and any(words in str(error) for words in _IMMUTABLE)):
                raise
        self._delete(body["metadata"]["namespace"], *_key(body))
        call(apply, what)

    def _applied(self, stack: str) -> set[tuple[str, str, str]]:
        """(apiVersion, kind, name) of every object the last deploy of ``stack`` applied."""
        found = self._own_namespace(stack)
        if found is None:
            return set()
        recorded = (found.metadata.annotations or {}).get(APPLIED, "[]")
        return {tuple(key) for key in json.loads(recorded)}

    def _delete(self, namespace: str, api_version: str, kind: str, name: str, timeout: float = 60) -> None:
        """Delete an object of the stack and wait until it is gone (its pods may still be stopping)."""
        resource = self.dynamic.resources.get(api_version=api_version, kind=kind)

        def gone() -> bool:
            try:
                resource.get(name=name, namespace=namespace)
            except ApiException as error:
                if error.status == 404:
                    return True
                raise
            return False

        try:
            resource.delete(name=name, namespace=namespace)
        except ApiException as error:
            if error.status != 404:
                raise EngineError(f"cannot delete {kind} {name}: {error.status} {error.reason}") from error
        wait_until(gone, timeout=timeout, what=f"{kind} {name} deleted")

    def _workload(self, namespace: str, name: str):
        """The Deployment, StatefulSet or DaemonSet ``name``; ServiceMissing when there is none."""
        for read in (self._apps.read_namespaced_deployment, self._apps.read_namespaced_stateful_set,
                     self._apps.read_namespaced_daemon_set):
            try:
                return read(name, namespace, _request_timeout=10)
            except ApiException as error:
                if error.status != 404:
                    raise EngineError(f"cannot read {namespace}_{name}: {error.reason}") from error
        raise ServiceMissing(f"service {namespace}_{name} is not deployed")

    def _enforce_failure_action(self, name: str, deployment, action: str, message: str):
        if action == "pause":
            if not deployment.spec.paused:
                self._patch(name, {"spec": {"paused": True}})
            return self._deployment(name)
        self._undo(name, deployment, f"the progress deadline passed ({message}); the harness undid the rollout, "
                                     "as Kubernetes does not roll back by itself")
        return self._deployment(name)

    def _undo(self, name: str, deployment, reason: str) -> None:
        namespace, _ = self._locate(name)
        selector = _selector(deployment)
        sets = [rs for rs in self._apps.list_namespaced_replica_set(namespace, label_selector=selector).items
                if any(o.uid == deployment.metadata.uid for o in rs.metadata.owner_references or [])]
        sets.sort(key=lambda rs: int((rs.metadata.annotations or {}).get(REVISION, "0")))
        if len(sets) < 2:
            raise EngineError(f"{name} has no earlier revision to go back to")
        template = self.api.sanitize_for_serialization(sets[-2].spec.template)
        template["metadata"]["labels"].pop("pod-template-hash", None)
        annotations = _change("rollback", "pause", reason if reason != "requested" else None)
        self._patch(name, {"metadata": {"annotations": annotations}, "spec": {"paused": False, "template": template}},
                    merge=True)

    def _probed(self, body: dict) -> dict:
        """An upgraded Deployment of the app's own whose container has no readiness probe gets its image's
        HEALTHCHECK as one, as with a compose file (``PROBE_SOURCE``): each release's image brings its own."""
        container_name = (body["metadata"].get("annotations") or {}).get(UPGRADED_CONTAINER)
        if body["kind"] != "Deployment" or container_name is None:
            return body
        container = next(c for c in body["spec"]["template"]["spec"]["containers"] if c["name"] == container_name)
        if "readinessProbe" not in container:
            body["metadata"]["annotations"][PROBE_SOURCE] = "image"
            if probe := image_probe(self._image_config(container["image"])):
                container["readinessProbe"] = probe
        return body

    def _deployment(self, name: str):
        namespace, deployment = self._locate(name)
        try:
            return self._apps.read_namespaced_deployment(deployment, namespace, _request_timeout=10)
        except ApiException as error:
            if error.status == 404:
                raise ServiceMissing(f"service {name} is not deployed") from error
            raise EngineError(f"cannot read {name}: {error.reason}") from error
        except UNANSWERED as error:
            raise ClusterError(f"the Kubernetes API server does not answer: {error}") from error

    def _patch(self, name: str, body: dict, merge: bool = False) -> None:
        namespace, deployment = self._locate(name)
        kwargs = {"_content_type": "application/merge-patch+json"} if merge else {}
        call(lambda: self._apps.patch_namespaced_deployment(deployment, namespace, body, **kwargs),
                   f"change {name}")

    def _pull_secret(self, namespace: str, auth: RegistryAuth) -> None:
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        config = json.dumps({"auths": {auth.server: {"auth": token}}}).encode()
        body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": PULL_SECRET, "namespace": namespace, "labels": MANAGED_BY},
                "data": {".dockerconfigjson": base64.b64encode(config).decode()}}
        call(lambda: self._core.patch_namespaced_secret(PULL_SECRET, namespace, body)
                   if exists(lambda: self._core.read_namespaced_secret(PULL_SECRET, namespace))
                   else self._core.create_namespaced_secret(namespace, body), "store the registry's credentials")

    def _own_namespace(self, namespace: str):
        """The namespace, None when there is none; EngineError when it is not the harness's (unlabelled): the
        harness deploys only into namespaces it created, and deletes no other."""
        try:
            found = self._core.read_namespace(namespace, _request_timeout=10)
        except ApiException as error:
            if error.status == 404:
                return None
            raise EngineError(f"cannot read the namespace {namespace}: {error.reason}") from error
        if any((found.metadata.labels or {}).get(key) != value for key, value in MANAGED_BY.items()):
            raise EngineError(f"the namespace {namespace} exists and is not the harness's (it lacks the label "
                              f"{OWN_NAMESPACES}): the harness uses only namespaces it created; remove it or use "
                              "another cluster")
        return found

    def _default_storage(self) -> bool:
        """Whether the cluster has a default StorageClass (a claim without a class is provisioned)."""
        classes = call(lambda: k8s.StorageV1Api(self.api).list_storage_class(_request_timeout=10).items,
                             "list the storage classes")
        return any((c.metadata.annotations or {}).get(DEFAULT_CLASS) == "true" for c in classes)

    def _namespace(self, stack: str) -> str:
        return self._namespaces.get(stack, stack)

    def _locate(self, service: str) -> tuple[str, str]:
        """``chaos_web`` -> namespace ``chaos`` (or the one it is renamed to), Deployment ``web``."""
        stack, _, name = service.partition("_")
        if not name:
            raise ServiceMissing(f"{service!r} names no stack (services are named <stack>_<service>)")
        return self._namespace(stack), name

    def _on_users_nodes(self, bodies: list[dict]) -> list[dict]:
        """On a cluster that is not the harness's: its host directories made ``emptyDir`` volumes, and the pods
        that select its kept labels placed by hostname (``placement``)."""
        found = call(lambda: self._core.list_node(_request_timeout=10).items, "list the nodes")
        hostnames = {node.metadata.name: (node.metadata.labels or {}).get(HOSTNAME, node.metadata.name)
                     for node in found}
        for body in bodies:
            host_directories_as_scratch(body)
            if (pod := pod_spec(body)) is not None:
                self._kept.place(pod, hostnames)
        return bodies

    def _namespace_exists(self, namespace: str) -> bool:
        return exists(lambda: self._core.read_namespace(namespace))



def _key(body: dict) -> tuple[str, str, str]:
    return body["apiVersion"], body["kind"], body["metadata"]["name"]


def _selector(deployment) -> str:
    """The label selector of a Deployment's pods and ReplicaSets."""
    return ",".join(f"{key}={value}" for key, value in deployment.spec.selector.match_labels.items())




def _joined_stacks(compose: str, stack: str) -> tuple[str, ...]:
    """The other stacks whose networks ``compose`` joins (external networks named ``<stack>_<net>``)."""
    networks = (yaml.safe_load(compose).get("networks") or {}).values()
    joined = {(spec or {}).get("name", "").split("_", 1)[0] for spec in networks
              if (spec or {}).get("external") and "_" in (spec or {}).get("name", "")}
    return tuple(sorted(joined - {stack}))


def _in_namespace(stack: str, body: dict, search: tuple[str, ...]) -> dict:
    """One of the app's own objects in the stack's namespace; its pods look names up in ``search`` too."""
    body["metadata"]["namespace"] = stack
    pod = pod_spec(body)
    if search and pod is not None:
        dns = pod.setdefault("dnsConfig", {})
        dns["searches"] = [*(dns.get("searches") or []), *(f"{namespace}.svc.{CLUSTER_DOMAIN}" for namespace in search)]
    return body


def _change(kind: str, failure_action: str, undone_because: str | None = None) -> dict[str, str | None]:
    """The annotations of a new change (None removes one: a patch's null)."""
    return {CHANGE: kind, CHANGE_STARTED: f"{time.time():.3f}", FAILURE_ACTION: failure_action,
            UNDONE_BY_HARNESS: undone_because}


def _update_state(deployment) -> tuple[UpdateState | None, str]:
    """The harness's words for where the last change stands, from the Deployment's status."""
    annotations = deployment.metadata.annotations or {}
    kind = annotations.get(CHANGE)
    if kind is None:
        return None, ""
    status, wanted = deployment.status, deployment.spec.replicas or 0
    conditions = {c.type: c for c in status.conditions or []}
    progressing = conditions.get("Progressing")
    message = progressing.message if progressing else ""
    started = float(annotations.get(CHANGE_STARTED, "0"))
    if (progressing is not None and progressing.reason == "ProgressDeadlineExceeded"
            and progressing.last_update_time.timestamp() > started):  # whole seconds: one set as the change
        # started is a verdict on the change before it (a deadline is at least a second long)
        return ("paused" if kind == "update" else "rollback_paused"), message
    if deployment.spec.paused:
        return ("paused" if kind == "update" else "rollback_paused"), "paused"
    done = ((status.observed_generation or 0) >= deployment.metadata.generation
            and (status.updated_replicas or 0) == wanted and (status.replicas or 0) == wanted
            and (status.available_replicas or 0) == wanted)
    if done:
        return ("completed" if kind == "update" else "rolled_back"), message
    return ("updating" if kind == "update" else "rolling_back"), message


def _upgraded(deployment):
    """The container of the Deployment an upgrade changes: the one the harness named, else the first."""
    containers = deployment.spec.template.spec.containers
    named = (deployment.metadata.annotations or {}).get(UPGRADED_CONTAINER)
    return next((c for c in containers if c.name == named), containers[0])


def _unschedulable(pod) -> str:
    """Why the scheduler has not placed the pod ("0/3 nodes are available: 1 node(s) didn't have free ports..."),
    or ''."""
    scheduled = next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)
    return scheduled.message or "" if scheduled is not None and scheduled.status == "False" else ""


def _task(pod, slot: int, container: str) -> TaskInfo:
    """A pod as a task (its ``container`` the one that counts): its state in Swarm's words, and the error that says
    why it is not running."""
    statuses = [s for s in pod.status.container_statuses or [] if s.name == container]
    image = next((c.image for c in pod.spec.containers if c.name == container), pod.spec.containers[0].image)
    state, error, since = "pending", _unschedulable(pod), pod.metadata.creation_timestamp
    if pod.spec.node_name:
        state = "assigned"
    if statuses:
        current = statuses[0].state
        if current.running is not None:  # ready as the kubelet said, unless the node controller took it back
            ready = statuses[0].ready and _condition(pod, "Ready") != "False"
            state, since = ("running" if ready else "starting"), current.running.started_at
        elif current.waiting is not None:
            reason = current.waiting.reason or ""
            state = "rejected" if reason in _PULL_FAILURES else "failed" if reason == "CrashLoopBackOff" else "preparing"
            error = f"{reason}: {current.waiting.message or ''}".strip(": ")
        elif current.terminated is not None:
            state = "complete" if current.terminated.exit_code == 0 else "failed"
            error, since = current.terminated.reason or "", current.terminated.finished_at
    return TaskInfo(id=pod.metadata.uid, slot=slot, node=pod.spec.node_name or "", image=image,
                    desired_state="shutdown" if pod.metadata.deletion_timestamp else "running", state=state,
                    error=error, timestamp=since.timestamp() if since else 0.0,
                    addresses=(pod.status.pod_ip,) if pod.status.pod_ip else (),
                    stops_by=pod.metadata.deletion_timestamp.timestamp() if pod.metadata.deletion_timestamp else 0.0)


def _condition(pod, kind: str) -> str | None:
    """The status (``True``, ``False``, ``Unknown``) of the pod's condition ``kind``, None when it has none."""
    return next((c.status for c in pod.status.conditions or [] if c.type == kind), None)
