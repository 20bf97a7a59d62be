"""A stack's compose document as Kubernetes objects: what the harness deploys on a Kubernetes cluster.

The harness renders every stack as a compose document (``harness.stack.compose``); on Kubernetes each of its
services becomes a Deployment and a headless Service of the same name in the stack's namespace, so the names
the services use for each other resolve as they do in Swarm. What is translated, and how:

=========================  ==========================================================================
compose                    Kubernetes
=========================  ==========================================================================
image, command, entrypoint the container's image, args, command
environment                env; Swarm's ``{{.Task.Name}}`` and ``{{.Node.Hostname}}`` from the pod's
                           name and node (the downward API)
healthcheck                a readiness probe running the same command at the same interval (the
                           image's own HEALTHCHECK when the compose file has none, as Swarm uses it)
deploy.replicas            replicas
deploy.placement           ``node.labels.K == V`` as a node selector, ``node.role == manager`` as the
                           control plane and ``worker`` as any other node; pods
                           spread over the nodes (a topology spread constraint per hostname)
deploy.update_config       the rolling update (``UpdatePolicy``, see ``rolling_update``)
named volumes              a host directory on the node (as a Swarm local volume is)
configs, secrets           ConfigMaps and Secrets named by their content, mounted as files
ports (mode host)          hostPorts, or NodePorts of a Service ``<service>-nodeport`` (``node_ports``:
                           on a cluster whose namespaces may not hold host ports)
networks                   nothing: a Kubernetes cluster has one flat pod network
=========================  ==========================================================================

A green stack sees blue's services by their names too: its pods search blue's namespace after their own.
"""

from __future__ import annotations

import base64
import copy
import math
import re
import shlex
from collections.abc import Callable

import yaml

from harness.engine.base import EngineObject, UpdatePolicy
from harness.errors import EngineError

__all__ = ["host_directories_as_scratch", "CONTROL_PLANE", "MANAGED_BY", "PROBE_SOURCE", "SERVICE_LABEL", "STACK_LABEL", "UPGRADED_CONTAINER",
           "ImageConfig", "claims_on_host", "image_probe", "placement", "rolling_update", "stack_objects"]

CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
MANAGED_BY = {"app.kubernetes.io/managed-by": "chaos-harness"}
STACK_LABEL = "chaos-harness.io/stack"
SERVICE_LABEL = "chaos-harness.io/service"
POD_START = 30  # seconds a new pod may take to be scheduled, pulled and first ready, beside Swarm's monitor
DEFAULT_SHARE = "25%"  # Kubernetes' default maxSurge and maxUnavailable
VOLUME_ROOT = "/var/lib/chaos-harness/volumes"  # on the node: a named volume's directory, as Swarm keeps one
_CONSTRAINT = re.compile(r"^\s*node\.(labels\.(?P<label>[\w.\-/]+)|role)\s*(?P<op>==|!=)\s*(?P<value>\S+)\s*$")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
_TEMPLATES = {"{{.Task.Name}}": "metadata.name", "{{.Node.Hostname}}": "spec.nodeName"}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|ms|m|s|us|ns))+$")


ImageConfig = Callable[[str], dict]  # an image reference -> its configuration (``Healthcheck``, ...)
PROBE_SOURCE = "chaos-harness.io/probe-from"  # compose or image: where the readiness probe comes from
UPGRADED_CONTAINER = "chaos-harness.io/container"  # the container of a Deployment an upgrade changes (default: first)


def stack_objects(stack: str, compose: str, objects: dict[str, EngineObject], search: tuple[str, ...] = (),
                  image_config: ImageConfig = lambda _: {}, node_ports: dict[int, int] | None = None) -> list[dict]:
    """The namespace, ConfigMaps, Secrets, Deployments and Services of ``compose`` deployed as ``stack``;
    ``objects``: the configs and secrets it names (by engine name); ``search``: more namespaces its pods look
    names up in; ``image_config``: an image's own settings (its HEALTHCHECK); ``node_ports``: a published port ->
    the NodePort that exposes it instead of a hostPort."""
    document = yaml.safe_load(compose)
    found: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": stack, "labels": MANAGED_BY}}]
    for kind in ("config", "secret"):
        for spec in (document.get(f"{kind}s") or {}).values():
            name = spec.get("name", "")
            if name not in objects:
                raise EngineError(f"the stack names the {kind} {name!r}, which the engine was not given")
            found.append(_data_object(stack, objects[name]))
    node_ports = node_ports or {}
    for name, service in document["services"].items():
        deployment = _deployment(stack, name, service, document, search, image_config)
        found += [deployment, _service(stack, name, service)]
        exposed = _exposed_by_node_ports(deployment, node_ports)
        if exposed:
            found.append(_node_port_service(stack, name, exposed))
    return found


def pod_spec(obj: dict) -> dict | None:
    """The pod spec a workload object runs (a CronJob's through its job template), or None for other kinds."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in WORKLOAD_KINDS:
        return None
    return (spec.get("template") or {}).get("spec")


def claims_on_host(stack: str, objects: list[dict]) -> list[dict]:
    """``objects`` with every PersistentVolumeClaim a directory on the node, as a named volume is on Swarm (the
    cluster has no storage provisioner): the claims left out, and the pod volumes and a StatefulSet's
    ``volumeClaimTemplates`` that name them made host directories (one per claim, shared by the replicas that
    land on one node)."""
    found = []
    for obj in objects:
        if obj["kind"] == "PersistentVolumeClaim":
            continue
        obj = copy.deepcopy(obj)
        pod = pod_spec(obj)
        if pod is not None:
            for volume in pod.get("volumes") or []:
                claim = volume.pop("persistentVolumeClaim", None)
                if claim is not None:
                    volume["hostPath"] = _host_directory(stack, str(claim.get("claimName") or volume["name"]))
            for template in obj["spec"].pop("volumeClaimTemplates", None) or []:
                name = template["metadata"]["name"]
                pod.setdefault("volumes", []).append(
                    {"name": name, "hostPath": _host_directory(stack, f"{obj['metadata']['name']}-{name}")})
        found.append(obj)
    return found


def host_directories_as_scratch(obj: dict) -> dict:
    """``obj`` with each of the harness's host directories (a named volume's, a claim's) an ``emptyDir``: on a
    cluster that is not the harness's, it leaves nothing on the nodes (the data lives as long as the pod)."""
    pod = pod_spec(obj)
    for volume in (pod or {}).get("volumes") or []:
        if str((volume.get("hostPath") or {}).get("path", "")).startswith(f"{VOLUME_ROOT}/"):
            del volume["hostPath"]
            volume["emptyDir"] = {}
    return obj


def _host_directory(stack: str, name: str) -> dict:
    return {"path": f"{VOLUME_ROOT}/{stack}_{_volume_name(name)}", "type": "DirectoryOrCreate"}


def rolling_update(policy: UpdatePolicy) -> dict:
    """The Deployment fields of an ``UpdatePolicy``: ``parallelism`` tasks at a time are stopped first
    (``maxUnavailable``) or started first (``maxSurge``), unless the scenario gives ``max_surge`` or
    ``max_unavailable`` (the other then Kubernetes' default, 25%); ``delay`` is how long a new pod must be ready
    before it counts (``minReadySeconds``). The progress deadline is the policy's own, else ``POD_START`` and
    ``monitor`` past that: Swarm's monitor starts once a task runs, while Kubernetes counts the time without
    progress, a new pod's scheduling, pull and first readiness included (at least 1 s)."""
    step = policy.parallelism or "100%"
    surge, unavailable = (step, 0) if policy.order == "start-first" else (0, step)
    if policy.max_surge is not None or policy.max_unavailable is not None:  # as given, the other at the default
        surge, unavailable = (DEFAULT_SHARE if given is None else given
                              for given in (policy.max_surge, policy.max_unavailable))
    ready = math.ceil(policy.delay)
    deadline = math.ceil(policy.progress_deadline) if policy.progress_deadline else \
        POD_START + ready + math.ceil(policy.monitor)
    return {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "minReadySeconds": ready, "progressDeadlineSeconds": max(1, deadline)}


def image_probe(config: dict) -> dict | None:
    """The readiness probe of an image's own HEALTHCHECK (Docker's image configuration), if it has one."""
    check = config.get("Healthcheck") or {}
    nanoseconds = {"interval": "Interval", "timeout": "Timeout", "start_period": "StartPeriod"}
    return _probe({"test": check.get("Test"), "retries": check.get("Retries") or 3,
                   **{key: check[field] / 1e9 for key, field in nanoseconds.items() if check.get(field)}})


def _deployment(stack: str, name: str, service: dict, document: dict, search: tuple[str, ...],
                image_config: ImageConfig) -> dict:
    deploy = service.get("deploy") or {}
    if deploy.get("mode") == "global":
        raise EngineError(f"service {name}: deploy.mode global has no Deployment twin; give it replicas")
    labels = {STACK_LABEL: stack, SERVICE_LABEL: name}
    container = _container(name, service)
    source = "compose" if "readinessProbe" in container else "image"
    if source == "image" and (probe := image_probe(image_config(service["image"]))):
        container["readinessProbe"] = probe
    pod: dict = {"containers": [container], "enableServiceLinks": False,
                 "terminationGracePeriodSeconds": _seconds(service.get("stop_grace_period", "10s"))}
    pod.update(placement(name, deploy))
    pod["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                         "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": labels}}]
    volumes = _volumes(stack, name, service, document)
    if volumes:
        pod["volumes"] = volumes
    if search:
        pod["dnsConfig"] = {"searches": [f"{namespace}.svc.cluster.local" for namespace in search]}
    update = deploy.get("update_config") or {}
    policy = UpdatePolicy(parallelism=int(update.get("parallelism", 1)), order=update.get("order", "stop-first"),
                          delay=_seconds(update.get("delay", "0s")), monitor=_seconds(update.get("monitor", "5s")))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": stack, "labels": {**MANAGED_BY, **labels},
                         "annotations": {PROBE_SOURCE: source}},
            "spec": {"replicas": int(deploy.get("replicas", 1)), "selector": {"matchLabels": labels},
                     "revisionHistoryLimit": 10, **rolling_update(policy),
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def _container(name: str, service: dict) -> dict:
    container: dict = {"name": name, "image": service["image"], "imagePullPolicy": "IfNotPresent"}
    if "entrypoint" in service:
        container["command"] = _words(service["entrypoint"])
    if "command" in service:
        container["args"] = _words(service["command"])
    env = [_env(key, str(value)) for key, value in (service.get("environment") or {}).items()]
    if env:
        container["env"] = env
    if "working_dir" in service:
        container["workingDir"] = service["working_dir"]
    ports = [{"containerPort": p["target"], "hostPort": p["published"], "protocol": "TCP"}
             for p in service.get("ports") or [] if isinstance(p, dict) and p.get("mode") == "host"]
    if ports:
        container["ports"] = ports
    probe = _probe(service.get("healthcheck") or {})
    if probe:
        container["readinessProbe"] = probe
    mounts = [*_volume_mounts(service), *_file_mounts(service)]
    if mounts:
        container["volumeMounts"] = mounts
    return container


def _env(key: str, value: str) -> dict:
    if value in _TEMPLATES:
        return {"name": key, "valueFrom": {"fieldRef": {"fieldPath": _TEMPLATES[value]}}}
    return {"name": key, "value": value}


def _probe(healthcheck: dict) -> dict | None:
    """Compose's health check as a readiness probe: the same command, interval, timeout and retries."""
    test = healthcheck.get("test")
    if not test or healthcheck.get("disable") or test[0] == "NONE":
        return None
    if isinstance(test, str):
        command = ["sh", "-c", test]
    elif test[0] == "CMD-SHELL":
        command = ["sh", "-c", " ".join(test[1:])]
    else:
        command = list(test[1:] if test[0] == "CMD" else test)
    return {"exec": {"command": command}, "periodSeconds": max(1, round(_seconds(healthcheck.get("interval", "30s")))),
            "timeoutSeconds": max(1, round(_seconds(healthcheck.get("timeout", "30s")))),
            "failureThreshold": int(healthcheck.get("retries", 3)),
            "initialDelaySeconds": round(_seconds(healthcheck.get("start_period", "0s")))}


def placement(name: str, deploy: dict) -> dict:
    """Node selectors from Swarm's placement constraints (a worker: any node but the control plane)."""
    selector: dict[str, str] = {}
    away: list[dict] = []
    for constraint in (deploy.get("placement") or {}).get("constraints") or []:
        match = _CONSTRAINT.match(constraint)
        if match is None or match["op"] != "==":
            raise EngineError(f"service {name}: the placement constraint {constraint!r} has no Kubernetes twin here "
                              "(node.labels.KEY == VALUE and node.role == manager|worker do)")
        if match["label"]:
            selector[match["label"]] = match["value"]
        elif match["value"] == "manager":
            selector[CONTROL_PLANE] = ""
        else:
            away.append({"key": CONTROL_PLANE, "operator": "DoesNotExist"})
    found: dict = {"nodeSelector": selector} if selector else {}
    if away:
        found["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": away}]}}}
    return found


def _volumes(stack: str, name: str, service: dict, document: dict) -> list[dict]:
    volumes = []
    for source in _named_volumes(service):
        if source not in (document.get("volumes") or {}):
            raise EngineError(f"service {name}: the volume {source!r} is not declared under volumes")
        volumes.append({"name": _volume_name(source), "hostPath": {
            "path": f"{VOLUME_ROOT}/{stack}_{source}", "type": "DirectoryOrCreate"}})
    for kind in ("config", "secret"):
        for item in service.get(f"{kind}s") or []:
            source = item if isinstance(item, str) else item["source"]
            engine_name = (document.get(f"{kind}s") or {})[source].get("name", source)
            volume = {"configMap": {"name": engine_name}} if kind == "config" else {"secret": {"secretName": engine_name}}
            volumes.append({"name": f"{kind}-{_volume_name(source)}", **volume})
    return volumes


def _named_volumes(service: dict) -> list[str]:
    names = []
    for volume in service.get("volumes") or []:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
        if isinstance(volume, dict):
            kind = volume.get("type", kind)
        if kind != "volume":
            raise EngineError(f"a {kind} mount ({source}) cannot be carried to a Kubernetes node; use a named volume")
        names.append(source)
    return names


def _volume_mounts(service: dict) -> list[dict]:
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target, _, mode = rest.partition(":")
        else:
            source, target, mode = volume["source"], volume["target"], "ro" if volume.get("read_only") else ""
        mounts.append({"name": _volume_name(source), "mountPath": target, "readOnly": mode == "ro"})
    return mounts


def _file_mounts(service: dict) -> list[dict]:
    mounts = []
    for kind in ("config", "secret"):
        for item in service.get(f"{kind}s") or []:
            source = item if isinstance(item, str) else item["source"]
            default = f"/{source}" if kind == "config" else f"/run/secrets/{source}"
            target = default if isinstance(item, str) else item.get("target", default)
            if kind == "secret" and not target.startswith("/"):
                target = f"/run/secrets/{target}"
            mounts.append({"name": f"{kind}-{_volume_name(source)}", "mountPath": target, "subPath": "data",
                           "readOnly": True})
    return mounts


def _service(stack: str, name: str, service: dict) -> dict:
    """A headless Service: the service's name resolves to its ready pods' addresses, like Swarm's dnsrr."""
    labels = {STACK_LABEL: stack, SERVICE_LABEL: name}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": stack, "labels": {**MANAGED_BY, **labels}},
            "spec": {"clusterIP": "None", "selector": labels, "publishNotReadyAddresses": False}}


def _exposed_by_node_ports(deployment: dict, node_ports: dict[int, int]) -> dict[int, int]:
    """The deployment's hostPorts that ``node_ports`` exposes instead (container port -> NodePort), taken off
    its containers."""
    exposed = {}
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for port in container.get("ports") or []:
            if port.get("hostPort") in node_ports:
                exposed[port["containerPort"]] = node_ports[port.pop("hostPort")]
    return exposed


def _node_port_service(stack: str, name: str, exposed: dict[int, int]) -> dict:
    """A NodePort Service in front of the service's pods that answers only on their nodes (traffic policy Local:
    no hop to another node, clients' addresses kept)."""
    labels = {STACK_LABEL: stack, SERVICE_LABEL: name}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{name}-nodeport", "namespace": stack, "labels": {**MANAGED_BY, **labels}},
            "spec": {"type": "NodePort", "externalTrafficPolicy": "Local", "selector": labels,
                     "ports": [{"name": f"port-{port}", "port": port, "targetPort": port, "nodePort": node_port,
                                "protocol": "TCP"} for port, node_port in sorted(exposed.items())]}}


def _data_object(stack: str, engine_object: EngineObject) -> dict:
    """A config as a ConfigMap, a secret as a Secret: its content under the key ``data``."""
    kind = "ConfigMap" if engine_object.kind == "config" else "Secret"
    return {"apiVersion": "v1", "kind": kind,
            "metadata": {"name": engine_object.name, "namespace": stack, "labels": MANAGED_BY},
            "binaryData" if kind == "ConfigMap" else "data": {"data": base64.b64encode(engine_object.data).decode()}}


def _volume_name(source: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", source.lower()).strip("-")[:50] or "volume"


def _words(value: str | list) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


def _seconds(value: str | int | float) -> float:
    """A compose duration (``1m30s``, ``500ms``) or a number of seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if not _DURATION.match(value.strip()):
        raise EngineError(f"{value!r} is not a duration (such as 10s, 1m30s, 500ms)")
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)", value))
