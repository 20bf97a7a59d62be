"""An app profile's Kubernetes form: the user's manifests, kustomization or Helm chart, rendered and checked.

The files are read, never changed on disk. ``render`` gives the objects as the user's own tools would apply
them (every YAML file of a directory, ``kubectl kustomize``, ``helm template``); ``check_manifests`` says what
makes them unusable for the profile, and what the harness changes when it deploys them:

- every object goes into the harness's namespace (the stack's), whatever namespace it names;
- Namespaces and HorizontalPodAutoscalers are left out (replicas come from the scenario);
- every container's image comes from the cluster's registry; an upgraded Deployment runs the scenario's replicas;
- a stateful workload is pinned to the labelled node, and a PersistentVolumeClaim is a directory on that node
  (the embedded cluster has no storage provisioner), as a named volume is on Swarm.

Only namespaced objects are deployed: the harness creates nothing cluster-wide, so a ClusterRole, a
CustomResourceDefinition or a PersistentVolume is refused, naming it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr,
                      ValidationError, model_validator)

from harness.app.shape import AppShape
from harness.engine.kubernetes.binaries import COMPONENTS
from harness.engine.kubernetes.translate import WORKLOAD_KINDS, pod_spec
from harness.errors import EnvironmentProblem, ProfileError
from harness.models import Strict
from harness.safe_yaml import read_yaml_documents, yaml_documents

Problem = dict[str, Any]
RENDER_TIMEOUT = 120.0  # seconds for `kubectl kustomize` or `helm template`
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
NAMESPACED_KINDS = frozenset({
    *WORKLOAD_KINDS, "ConfigMap", "Secret", "Service", "ServiceAccount", "Role", "RoleBinding", "Endpoints",
    "EndpointSlice", "PersistentVolumeClaim", "Ingress", "NetworkPolicy", "PodDisruptionBudget", "LimitRange",
    "ResourceQuota", "ReplicaSet"})
LEFT_OUT = {"Namespace": "the harness deploys into a namespace of its own",
            "HorizontalPodAutoscaler": "replicas come from the scenario"}


class KubernetesSource(Strict):
    """Where the app's Kubernetes objects come from, relative to the profile: a directory of manifests, a
    kustomization, or a Helm chart (a directory or a packaged ``.tgz``) with its values files and ``set`` values."""

    manifests: str | None = Field(None, description="a directory: every .yaml, .yml and .json file in it")
    kustomize: str | None = Field(None, description="a kustomization directory, rendered with `kubectl kustomize`")
    chart: str | None = Field(None, description="a Helm chart (a directory or a .tgz), rendered with `helm template`")
    values: list[str] = Field([], max_length=20, description="the chart's values files, in order")
    set: dict[str, StrictStr | StrictBool | StrictInt | StrictFloat] = Field(
        {}, max_length=100, description="the chart's values by key: a string as --set-string, anything else as --set")
    release: str | None = Field(None, pattern=r"^[a-z]([a-z0-9-]{0,51}[a-z0-9])?$",
                                description="the chart's release name, which most charts name their objects after "
                                            "(default: the profile's name)")

    @model_validator(mode="after")
    def _one_source(self) -> KubernetesSource:
        given = [key for key in ("manifests", "kustomize", "chart") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of manifests, kustomize or chart; got {', '.join(given) or 'none'}")
        if (self.values or self.set or self.release) and self.chart is None:
            raise ValueError("values, set and release are a chart's: give chart, or leave them out")
        return self

    @property
    def path(self) -> str:
        """The directory or chart it names."""
        return next(p for p in (self.manifests, self.kustomize, self.chart) if p is not None)

    def named_paths(self) -> list[tuple[tuple, str, str]]:
        """``(loc, path, kind)`` of every path it names, for the profile's path check."""
        found = [(("kubernetes", key), path, "directory") for key in ("manifests", "kustomize")
                 if (path := getattr(self, key)) is not None]
        if self.chart is not None:
            found.append((("kubernetes", "chart"), self.chart, "file" if self.chart.endswith(".tgz") else "directory"))
        return found + [(("kubernetes", "values", i), path, "file") for i, path in enumerate(self.values)]


@dataclass(frozen=True)
class Workload:
    """A workload object of the manifests: its kind, its containers' images and the ports they declare."""

    kind: str
    name: str
    containers: dict[str, str]  # container name -> image, init containers first
    main: tuple[str, ...]  # the names of its (not init) containers
    ports: frozenset[int]

    def upgraded_container(self) -> str | None:
        """The container an upgrade changes: the only one, or the one named like the workload."""
        if len(self.main) == 1:
            return self.main[0]
        return self.name if self.name in self.main else None


def render(source: KubernetesSource, base: Path, release: str, namespace: str) -> list[dict]:
    """The objects the source stands for, as the user's tools render them: a chart as ``release`` in
    ``namespace``, without its test hooks. ProfileError naming the file or the tool's own words when that fails."""
    if source.manifests is not None:
        return [document for path in manifest_files(base / source.manifests)
                for document in read_yaml_documents(path, "manifest", ProfileError)]
    if source.kustomize is not None:
        text = _run([str(_tool("kubectl")), "kustomize", str(base / source.kustomize)], "kubectl kustomize")
    else:
        argv = [str(_tool("helm")), "template", release, str(base / source.chart), "--namespace", namespace,
                "--skip-tests"]
        argv += [arg for path in source.values for arg in ("--values", str(base / path))]
        argv += [arg for key, value in source.set.items() for arg in _set(key, value)]
        text = _run(argv, "helm template")
    return yaml_documents(text, f"the output of {'kubectl kustomize' if source.kustomize else 'helm template'}",
                          ProfileError)


def _set(key: str, value: str | bool | int | float) -> tuple[str, str]:
    """A ``set`` value as Helm's flag: a string as it is (``--set-string``), else as YAML says it (``--set``)."""
    if isinstance(value, str):
        return "--set-string", f"{key}={value}"
    return "--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"


def manifest_files(directory: Path) -> list[Path]:
    """The YAML and JSON files of a manifest directory, in name order (``kubectl apply -f DIR`` reads the same)."""
    return sorted(path for path in directory.iterdir() if path.suffix in MANIFEST_SUFFIXES and path.is_file())


def expanded(documents: Iterable[Any]) -> list[Any]:
    """The documents with every ``List`` (what ``kubectl get -o yaml`` writes) replaced by its items."""
    found = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List" and isinstance(document.get("items"), list):
            found += document["items"]
        else:
            found.append(document)
    return found


def workloads(objects: Iterable[dict]) -> dict[str, Workload]:
    """The workloads of ``objects`` by name (Deployments first when names repeat across kinds)."""
    found: dict[str, Workload] = {}
    for obj in sorted(objects, key=lambda o: o["kind"] != "Deployment"):
        pod = pod_spec(obj)
        if pod is not None and obj["metadata"]["name"] not in found:
            found[obj["metadata"]["name"]] = _workload(obj, pod)
    return found


def label(obj: dict) -> str:
    """``Deployment/web``: how messages name an object (``Deployment (no metadata.name)`` when it has none)."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{obj.get('kind')}/{name}" if name else f"{obj.get('kind')} (no metadata.name)"


def check_manifests(profile: AppShape, documents: list[Any], where: str, namespace: str) -> tuple[
        list[dict], list[Problem], list[str]]:
    """The objects to deploy, the problems that make them unusable for ``profile`` (``where``: what rendered them),
    and warnings about what the harness will change (``namespace``: the one it deploys into)."""
    objects, problems, warnings = [], [], []
    for document in expanded(documents):
        problem = _shape_problem(document)
        if problem:
            problems.append(_problem(where, problem))
        elif document["kind"] in LEFT_OUT:
            warnings.append(f"{label(document)} is left out: {LEFT_OUT[document['kind']]}")
        elif document["kind"] not in NAMESPACED_KINDS:
            problems.append(_problem(where, f"{label(document)}: the harness deploys namespaced objects only, into a "
                                            f"namespace of its own, and creates nothing cluster-wide; deploy "
                                            f"{document['kind']} objects with the cluster, or leave them out"))
        else:
            objects.append(document)
    problems += _duplicates(objects, where)
    if not problems:
        problems += _profile_fits(profile, workloads(objects))
        warnings += _changes(objects, namespace, profile.stateful)
    return objects, problems, warnings


def _shape_problem(document: Any) -> str | None:
    """What makes ``document`` no Kubernetes object the harness can read (a workload: with a pod template whose
    containers each have a name and an image), or None."""
    if not isinstance(document, dict):
        return f"a document is {type(document).__name__}, not an object with apiVersion, kind and metadata"
    kind = document.get("kind")
    checks = [(_Object, document, "")]
    if kind in WORKLOAD_KINDS:
        checks.append((_SPECS.get(kind, _WorkloadSpec), document.get("spec"), "spec."))
    elif kind in _SPECS and document.get("spec") is not None:  # a budget's spec is optional
        checks.append((_SPECS[kind], document["spec"], "spec."))
    for model, value, prefix in checks:
        try:
            model.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = (prefix + ".".join(str(step) for step in first["loc"])).rstrip(".")
            given = f"got {first['input']!r}: " if first["type"] != "missing" else ""
            allowed = first["msg"].removeprefix("Value error, ").split(" or instance of")[0]
            return f"{label(document)}: {where}: {given}{allowed}"
    return None


class _Loose(BaseModel):
    """Only what the harness reads is checked; everything else is the API server's business."""

    model_config = ConfigDict(extra="allow")


def _pods(value: Any) -> Any:
    """A rollout's maxSurge or maxUnavailable: a count of pods, or a share of the replicas such as 25%."""
    count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    share = isinstance(value, str) and re.fullmatch(r"\d{1,3}%", value) is not None
    if value is not None and not (count or share):
        raise ValueError("a count of pods (0 or more) or a share of the replicas such as 25%")
    return value


Pods = Annotated[Any, BeforeValidator(_pods)]


class _Container(_Loose):
    name: StrictStr
    image: StrictStr
    readinessProbe: dict | None = None


class _Toleration(_Loose):
    key: StrictStr | None = None
    effect: StrictStr | None = None
    tolerationSeconds: StrictInt | None = None


class _PodSpec(_Loose):
    containers: list[_Container] = Field(min_length=1)
    initContainers: list[_Container] = []
    tolerations: list[_Toleration] | None = None
    volumes: list[dict] | None = None


class _TemplateMetadata(_Loose):
    labels: dict[StrictStr, StrictStr] = {}


class _PodTemplate(_Loose):
    metadata: _TemplateMetadata = _TemplateMetadata()
    spec: _PodSpec


class _WorkloadSpec(_Loose):
    template: _PodTemplate
    replicas: Annotated[StrictInt, Field(ge=0)] | None = None


class _RollingUpdate(_Loose):
    maxSurge: Pods = None
    maxUnavailable: Pods = None


class _Strategy(_Loose):
    type: Literal["RollingUpdate", "Recreate", "OnDelete"] | None = None
    rollingUpdate: _RollingUpdate | None = None


class _LabelledMetadata(_Loose):
    labels: dict[StrictStr, StrictStr] = Field(min_length=1)  # a Deployment's pods are selected by them


class _LabelledTemplate(_PodTemplate):
    metadata: _LabelledMetadata


class _DeploymentSpec(_WorkloadSpec):
    template: _LabelledTemplate
    strategy: _Strategy | None = None
    progressDeadlineSeconds: Annotated[StrictInt, Field(ge=1)] | None = None


class _StatefulSetSpec(_WorkloadSpec):
    updateStrategy: _Strategy | None = None
    volumeClaimTemplates: list[dict] | None = None


class _JobTemplate(_Loose):
    spec: _WorkloadSpec


class _CronJobSpec(_Loose):
    jobTemplate: _JobTemplate


class _Metadata(_Loose):
    name: StrictStr


class _Object(_Loose):
    apiVersion: StrictStr
    kind: StrictStr
    metadata: _Metadata


class _Selector(_Loose):
    matchLabels: dict[StrictStr, StrictStr] | None = None


class _BudgetSpec(_Loose):
    selector: _Selector | None = None


_SPECS: dict[str, type[BaseModel]] = {"Pod": _PodSpec, "CronJob": _CronJobSpec, "Deployment": _DeploymentSpec,
                                      "StatefulSet": _StatefulSetSpec, "PodDisruptionBudget": _BudgetSpec}


def _duplicates(objects: list[dict], where: str) -> list[Problem]:
    seen: set[str] = set()
    repeated = [label(o) for o in objects if label(o) in seen or seen.add(label(o))]
    return [_problem(where, f"{name} is given twice") for name in repeated]


def _profile_fits(profile: AppShape, found: dict[str, Workload]) -> list[Problem]:
    """Every workload the profile names exists; the upgraded ones are Deployments with one container to upgrade."""
    deployments = sorted(name for name, w in found.items() if w.kind == "Deployment")
    problems = []
    upgraded = next(iter(profile.releases.values()))
    for release, images in profile.releases.items():
        problems += [{"loc": ("releases", release, name), "input": name, "msg": why}
                     for name in images if (why := _upgrade_problem(found.get(name), deployments))]
    problems += [{"loc": ("stateful", i), "input": name,
                  "msg": f"the manifests have no such workload; they have {', '.join(sorted(found)) or 'none'}"}
                 for i, name in enumerate(profile.stateful) if name not in found]
    entry = profile.entry
    if entry.service not in upgraded:
        problems.append({"loc": ("entry", "service"), "input": entry.service,
                         "msg": f"the entry must be a Deployment the releases upgrade ({', '.join(upgraded)}): the "
                                "load balancer tells releases apart by the entry's pods"})
    elif (workload := found.get(entry.service)) and workload.ports and entry.port not in workload.ports:
        problems.append({"loc": ("entry", "port"), "input": entry.port,
                         "msg": f"Deployment {entry.service}'s containers declare the ports "
                                f"{', '.join(map(str, sorted(workload.ports)))}, not this one"})
    return problems


def _upgrade_problem(workload: Workload | None, deployments: list[str]) -> str | None:
    if workload is None or workload.kind != "Deployment":
        return (f"the manifests have no Deployment of that name (an upgrade is a Deployment's rolling update); "
                f"they have {', '.join(deployments) or 'none'}")
    if workload.upgraded_container() is None:
        return (f"Deployment {workload.name} runs the containers {', '.join(workload.main)}: the harness upgrades "
                f"one, the only one or the one named {workload.name}; rename the one the releases change")
    return None


def _changes(objects: list[dict], namespace: str, stateful: Sequence[str]) -> list[str]:
    """What the harness changes in the objects when it deploys them (beside images and replicas, always), and a
    stateful workload that keeps nothing across its pods."""
    warnings = [f"{label(o)}: its namespace {o['metadata']['namespace']!r} becomes the harness's"
                for o in objects if o["metadata"].get("namespace") not in (None, namespace)]
    claims = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
    claims += [f"{label(o)}'s volumeClaimTemplates" for o in objects
               if o["kind"] == "StatefulSet" and (o.get("spec") or {}).get("volumeClaimTemplates")]
    if claims:
        warnings.append(f"the volume claims {', '.join(claims)} become a directory on the node (the cluster has no "
                        "storage provisioner), as a named volume is on Swarm; on an existing cluster (--provider "
                        "existing) they stay claims if it has a default StorageClass, else become emptyDir volumes "
                        "(their data lives as long as the pod)")
    kept = {o["metadata"]["name"] for o in objects if (o["kind"] == "StatefulSet" and o["spec"].get(
        "volumeClaimTemplates")) or any(set(v) & {"persistentVolumeClaim", "hostPath"}
                                        for v in (pod_spec(o) or {}).get("volumes") or [] if isinstance(v, dict))}
    warnings += [f"the stateful workload {name} mounts no volume claim: its data is lost whenever its pod is "
                 "replaced" for name in stateful if name not in kept]
    return warnings


def mounts_claim(obj: dict) -> bool:
    """Whether a workload's pods mount a PersistentVolumeClaim."""
    return any("persistentVolumeClaim" in volume for volume in (pod_spec(obj) or {}).get("volumes") or []
               if isinstance(volume, dict))


def _workload(obj: dict, pod: dict) -> Workload:
    main = pod.get("containers") or []
    containers = {c["name"]: c["image"] for c in [*(pod.get("initContainers") or []), *main]}
    ports = frozenset(p["containerPort"] for c in main for p in c.get("ports") or []
                      if isinstance(p, dict) and isinstance(p.get("containerPort"), int))
    return Workload(obj["kind"], obj["metadata"]["name"], containers, tuple(c["name"] for c in main), ports)


def _problem(where: str, message: str) -> Problem:
    return {"loc": ("kubernetes",), "input": where, "msg": message}


def _tool(command: str) -> Path:
    """A Kubernetes tool the harness built (``chaos-harness --engine kubernetes setup``)."""
    for component in COMPONENTS:
        if command in component.commands:
            path = component.path() / command
            if path.is_file():
                return path
    raise EnvironmentProblem(f"rendering the profile's Kubernetes objects needs {command}, which is not built yet: "
                             "`chaos-harness --engine kubernetes setup` builds it (once per user)")


def _run(argv: list[str], what: str) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=RENDER_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise ProfileError(f"`{what}` did not finish in {RENDER_TIMEOUT:.0f} s") from error
    if result.returncode != 0:
        raise ProfileError(f"`{what}` failed: {result.stderr.strip()[-1500:]}")
    return result.stdout
