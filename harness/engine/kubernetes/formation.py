"""Form a Kubernetes cluster on started nodes: files in place, programs started, every node Ready, DNS served.

Each node gets its files (``bootstrap.node_files``) and the pause image (the one image not pulled from the
cluster's registry, imported by the kubelet's service) as one tar stream on its standard input, then the routes
to the other nodes' pod subnets (which the node sets again itself when it restarts). The control plane's
programs start first; the harness then waits for the API server, for every node to be Ready,
and for the default service account, and deploys CoreDNS from the cluster's registry.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from harness.engine.kubernetes.api import UNANSWERED, api_client, exists, is_ready
from harness.engine.kubernetes.bootstrap import (
    CLUSTER_DNS, CONTROL_PLANE_LABEL, PAUSE_ARCHIVE, ClusterPlan, NodeFiles, Secrets, node_files)
from harness.errors import ClusterError
from harness.waiting import wait_until

__all__ = ["COREDNS_REPOSITORY", "form", "nodes_ready"]

RunOn = Callable[[str, list[str], bytes | None], "object"]  # (node, argv, stdin) -> a result with .ok and .output
Progress = Callable[[str], None]
COREDNS_REPOSITORY = "chaos-harness/coredns"
READY_TIMEOUT = 180.0  # seconds for the API server, then for every node, to be ready


def form(plan: ClusterPlan, secrets: Secrets, run: RunOn, pause_archive: bytes, kubeconfig: Path,
         coredns_image: str, progress: Progress) -> None:
    """Every node's files and programs, then wait until the cluster serves (see the module's docstring)."""
    started = time.monotonic()
    nodes = [plan.control_plane, *[node for node in plan.node_ips if node != plan.control_plane]]
    for node in nodes:
        files = {**node_files(plan, secrets, node), PAUSE_ARCHIVE: (pause_archive, 0o644)}
        _checked(run, node, ["tar", "-x", "-p", "-C", "/"], _tar(files), "write the node's files and start its programs")
        _checked(run, node, ["chaos-node-routes"], None, "route to the other nodes' pods")
    api = k8s.CoreV1Api(api_client(kubeconfig))
    progress("waiting for the API server")
    wait_until(lambda: _answers(api), timeout=READY_TIMEOUT, what="the Kubernetes API server to answer",
               hint=f"its log is /var/log/kube-apiserver.log on {plan.control_plane}")
    progress(f"waiting for {len(nodes)} nodes to be Ready")
    wait_until(lambda: not nodes_ready(api, nodes), timeout=READY_TIMEOUT, what="every node to be Ready",
               hint="a node's kubelet logs to /var/log/kubelet.log in it")
    api.patch_node(plan.control_plane, {"metadata": {"labels": {CONTROL_PLANE_LABEL: ""}}})
    wait_until(lambda: exists(lambda: api.read_namespaced_service_account("default", "default")),
               timeout=READY_TIMEOUT, what="the default service account")
    _deploy_dns(api_client(kubeconfig), coredns_image)
    apps = k8s.AppsV1Api(api.api_client)
    wait_until(lambda: (apps.read_namespaced_deployment("coredns", "kube-system").status.available_replicas or 0) > 0,
               timeout=READY_TIMEOUT, what="the cluster's DNS (CoreDNS) to be available",
               hint=f"it is pulled from the cluster's registry: {coredns_image}")
    progress(f"Kubernetes is up: {len(nodes)} nodes Ready in {time.monotonic() - started:.1f} s")


def nodes_ready(api: k8s.CoreV1Api, nodes: list[str]) -> list[str]:
    """The nodes of ``nodes`` that are not Ready (all of them while the API server does not answer)."""
    try:
        found = {node.metadata.name: node for node in api.list_node().items}
    except UNANSWERED:
        return list(nodes)
    return [name for name in nodes if name not in found or not is_ready(found[name])]


def _answers(api: k8s.CoreV1Api) -> bool:
    try:
        k8s.VersionApi(api.api_client).get_code(_request_timeout=5)
        return True
    except UNANSWERED:
        return False


def _deploy_dns(api: k8s.ApiClient, image: str) -> None:
    """CoreDNS answering for the cluster's Services at ``CLUSTER_DNS``, from the cluster's registry (applied
    server-side, so an ``up`` of a cluster that is up changes nothing)."""
    dynamic = DynamicClient(api)
    for document in yaml.safe_load_all(_COREDNS.replace("IMAGE", image).replace("CLUSTER_DNS", CLUSTER_DNS)):
        resource = dynamic.resources.get(api_version=document["apiVersion"], kind=document["kind"])
        try:
            dynamic.server_side_apply(resource, body=document, field_manager="chaos-harness", force_conflicts=True)
        except ApiException as error:
            raise ClusterError(f"deploying CoreDNS failed: {error.status} {error.reason}") from error


def _checked(run: RunOn, node: str, argv: list[str], stdin: bytes | None, what: str) -> None:
    result = run(node, argv, stdin)
    if not result.ok:
        raise ClusterError(f"{node}: cannot {what}: {result.output.strip()[-500:]}")


def _tar(files: NodeFiles) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, (content, mode) in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(content), mode, int(time.time())
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


_COREDNS = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
        loop
        reload
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      nodeSelector: {node-role.kubernetes.io/control-plane: ""}
      containers:
      - name: coredns
        image: IMAGE
        args: [-conf, /etc/coredns/Corefile]
        ports: [{containerPort: 53, protocol: UDP, name: dns}, {containerPort: 53, protocol: TCP, name: dns-tcp}]
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns, items: [{key: Corefile, path: Corefile}]}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: CLUSTER_DNS
  selector: {k8s-app: kube-dns}
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
"""
