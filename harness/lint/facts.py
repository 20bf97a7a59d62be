"""The facts of a stack that upgrade pitfalls are read from, as each engine would deploy it: a Swarm service's
replicas, update settings, health check (the compose file's, else its image's Dockerfile's),
volumes and placement; a Kubernetes workload's replicas, rollout, probes, claims and tolerations, and the
PodDisruptionBudgets. Every fact keeps where it was read, so that a finding can point at the file and key.

Defaults are the engines' own (``docker service create``, the Compose specification, the Kubernetes API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.app.manifests import manifest_files, mounts_claim
from harness.app.profile import Profile

# Swarm's defaults for update_config (docker service create --help)
SWARM_UPDATE_DEFAULTS = {"parallelism": 1, "delay": 0.0, "failure_action": "pause", "monitor": 5.0,
                         "max_failure_ratio": 0.0, "order": "stop-first"}
PROGRESS_DEADLINE_DEFAULT = 600.0  # a Deployment's progressDeadlineSeconds
TOLERATION_DEFAULT = 300.0  # the not-ready/unreachable tolerationSeconds the API server adds to every pod
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_seconds(text: str | float | int) -> float:
    """``"1m30s"`` -> 90.0 (a Go duration, as compose files give them); a number is seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    return sum(float(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(text))


@dataclass(frozen=True)
class SwarmService:
    """A compose service as Swarm would run it."""

    name: str
    upgraded: bool
    stateful: bool
    replicas: int | None  # None: global
    update: dict  # update_config, Swarm's defaults where it gives none (durations in seconds)
    health: str | None  # where its health check comes from (the compose file, or a Dockerfile); None: it has none
    health_disabled: bool  # the compose file disables the image's
    local_volumes: tuple[str, ...]  # named volumes of the local driver (each node has its own)
    placed: bool  # placement constraints pin it


@dataclass(frozen=True)
class KubeWorkload:
    """A Deployment or StatefulSet as the API server would take it."""

    kind: str
    name: str
    upgraded: bool
    stateful: bool
    replicas: int
    strategy: str  # RollingUpdate, Recreate (Deployment) or OnDelete (StatefulSet)
    max_surge: int | str
    max_unavailable: int | str
    progress_deadline: float | None  # None: a StatefulSet (it has none)
    readiness: bool  # the upgraded container has a readinessProbe
    claims: bool  # its pods mount a PersistentVolumeClaim
    toleration: float  # seconds its pods stay bound to a NotReady or unreachable node
    labels: dict  # its pods' labels


@dataclass(frozen=True)
class StackFacts:
    """Everything the rules read, and how to point at a key."""

    swarm: tuple[SwarmService, ...]
    kubernetes: tuple[KubeWorkload, ...]
    disruption_budgets: tuple[dict, ...]  # the PodDisruptionBudgets' selectors (matchLabels)
    compose_file: Path | None
    kubernetes_source: Path | None  # the manifests' directory, kustomization or chart
    entry: str  # the service clients reach

    def compose_line(self, *keys: str) -> int | None:
        """The line of ``keys`` (or of the deepest of them there) in the compose file."""
        return yaml_line(self.compose_file, keys) if self.compose_file else None

    def object_place(self, kind: str, name: str, keys: tuple[str, ...]) -> tuple[Path, int | None]:
        """The file that holds the object, and the line of ``keys`` (or of the deepest of them there) in it: in a
        directory of manifests, the object itself; in a chart's templates or a kustomization's files, read as text,
        the file that makes such an object (named so, if one is) and its key's line after ``kind``; else the source
        itself, no line."""
        source = self.kubernetes_source
        assert source is not None
        if not source.is_dir():
            return source, None
        if not any((source / marker).exists() for marker in ("Chart.yaml", "kustomization.yaml", "kustomization.yml")):
            for path in manifest_files(source):
                for node in _documents(path):
                    if _scalar(node, "kind") == kind and _scalar(_child(node, "metadata"), "name") == name:
                        return path, _line(node, keys)
            return source, None
        return _text_place(source, kind, name, keys)


def _text_place(directory: Path, kind: str, name: str, keys: tuple[str, ...]) -> tuple[Path, int | None]:
    """The YAML file below ``directory`` that makes a ``kind`` (the one that names ``name``, if one does), and the
    line of the deepest of ``keys`` that follows its ``kind:`` line (else that line); ``directory`` when none."""
    found: list[tuple[Path, list[str], int]] = []
    for path in sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        lines = path.read_text(errors="replace").splitlines()
        start = next((i for i, line in enumerate(lines) if re.fullmatch(rf"\s*kind:\s*{kind}\s*", line)), None)
        if start is not None:
            found.append((path, lines, start))
    if not found:
        return directory, None
    named = [entry for entry in found if any(re.search(rf"name:\s*['\"]?{re.escape(name)}['\"]?\s*$", line)
                                             for line in entry[1])]
    path, lines, start = (named or found)[0]
    for key in reversed(keys):
        line = next((i for i in range(start, len(lines)) if re.match(rf"\s*-?\s*{re.escape(key)}:", lines[i])), None)
        if line is not None:
            return path, line + 1
    return path, start + 1


def of_profile(profile: Profile) -> StackFacts:
    """The facts of the profile's stack, in both forms it is given in."""
    model = profile.model
    compose_file = profile.relative(model.compose) if model.compose else None
    source = profile.relative(model.kubernetes.path) if model.kubernetes else None
    swarm = tuple(_swarm_service(profile, name) for name in profile.compose.get("services", {}))
    objects = profile.manifests
    return StackFacts(swarm, tuple(_workloads(profile, objects)), tuple(_budgets(objects)), compose_file, source,
                      model.entry.service)


def _swarm_service(profile: Profile, name: str) -> SwarmService:
    spec = profile.compose["services"][name]
    deploy = spec.get("deploy") or {}
    mode = deploy.get("mode", "replicated")
    health, disabled = _health(profile, name, spec)
    return SwarmService(
        name, name in profile.upgraded, name in profile.model.stateful,
        None if mode.startswith("global") else int(deploy.get("replicas", 1)),
        _settings(deploy.get("update_config"), SWARM_UPDATE_DEFAULTS),
        health, disabled, _local_volumes(profile.compose, spec),
        bool((deploy.get("placement") or {}).get("constraints")))


def _settings(given: dict | None, defaults: dict) -> dict:
    settings = {**defaults, **(given or {})}
    return {**settings, "delay": go_seconds(settings["delay"]), "monitor": go_seconds(settings["monitor"])}


def _health(profile: Profile, name: str, spec: dict) -> tuple[str | None, bool]:
    """Where the service's health check comes from as Swarm runs it (the compose file's test, else the image's
    HEALTHCHECK), and whether the compose file disables the image's."""
    check = spec.get("healthcheck") or {}
    test = check.get("test")
    if check.get("disable") or test in (["NONE"], "NONE"):
        return None, True
    if test is not None:
        return "the compose file", False
    dockerfile = _dockerfile(profile, name, spec)
    if dockerfile is not None and dockerfile.is_file() and dockerfile_health(dockerfile.read_text(errors="replace")):
        return str(dockerfile), False
    return None, False


def _dockerfile(profile: Profile, name: str, spec: dict) -> Path | None:
    newest = list(profile.model.releases.values())[-1].get(name)
    if newest is not None and newest.build is not None:
        context = profile.relative(newest.build.context)
        return context / (newest.build.dockerfile or "Dockerfile")
    build = spec.get("build")
    if build is None or profile.model.compose is None:
        return None
    base = profile.relative(profile.model.compose).parent
    if isinstance(build, str):
        return base / build / "Dockerfile"
    return base / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


_HEALTHCHECK = re.compile(r"^\s*HEALTHCHECK\s+(.*)$", re.IGNORECASE | re.MULTILINE)


def dockerfile_health(text: str) -> bool:
    """Whether a Dockerfile's image has a health check: its last HEALTHCHECK, unless that is ``HEALTHCHECK NONE``."""
    found = _HEALTHCHECK.findall(text.replace("\\\n", " "))
    return bool(found) and not found[-1].strip().upper().startswith("NONE")


def _local_volumes(compose: dict, spec: dict) -> tuple[str, ...]:
    """The service's named volumes whose driver is local (the default): each node has its own copy."""
    declared = compose.get("volumes") or {}
    names = [_volume_source(item) for item in spec.get("volumes") or []]
    return tuple(name for name in names if name in declared
                 and (declared[name] or {}).get("driver", "local") == "local"
                 and not (declared[name] or {}).get("external"))


def _volume_source(item: str | dict) -> str | None:
    if isinstance(item, dict):
        return item.get("source") if item.get("type") == "volume" else None
    source, _, rest = item.partition(":")
    return source if rest and not source.startswith((".", "/", "~")) else None


def _workloads(profile: Profile, objects: tuple[dict, ...]) -> list[KubeWorkload]:
    return [_workload(profile, o) for o in objects if o.get("kind") in ("Deployment", "StatefulSet")]


def _workload(profile: Profile, manifest: dict) -> KubeWorkload:
    name, kind, spec = manifest["metadata"]["name"], manifest["kind"], manifest.get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec") or {}
    deployment = kind == "Deployment"
    strategy = spec.get("strategy" if deployment else "updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    claims = bool(spec.get("volumeClaimTemplates")) or mounts_claim(manifest)
    return KubeWorkload(
        kind, name, name in profile.upgraded, name in profile.model.stateful, int(spec.get("replicas", 1)),
        strategy.get("type", "RollingUpdate"), rolling.get("maxSurge", "25%" if deployment else 0),
        rolling.get("maxUnavailable", "25%" if deployment else 1),
        float(spec.get("progressDeadlineSeconds", PROGRESS_DEADLINE_DEFAULT)) if deployment else None,
        "readinessProbe" in _upgraded_container(profile, name, pod.get("containers") or []), claims,
        _toleration(pod.get("tolerations") or []), dict((template.get("metadata") or {}).get("labels") or {}))


def _upgraded_container(profile: Profile, name: str, containers: list[dict]) -> dict:
    """The container an upgrade changes (the first, when the profile does not tell)."""
    workload = profile.workloads.get(name)
    wanted = workload.upgraded_container() if workload else None
    return next((c for c in containers if c.get("name") == wanted), containers[0] if containers else {})


def _toleration(tolerations: list[dict]) -> float:
    """How long the pods stay on a node that stopped answering: the shorter of their not-ready and unreachable
    tolerations (the API server's 300 s where they give none)."""
    keys = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    seconds = [float(t["tolerationSeconds"]) for t in tolerations
               if t.get("key") in keys and t.get("effect") == "NoExecute" and t.get("tolerationSeconds") is not None]
    return min(seconds, default=TOLERATION_DEFAULT)


def _budgets(objects: tuple[dict, ...]) -> list[dict]:
    return [((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            for o in objects if o.get("kind") == "PodDisruptionBudget"]


def rounded(value: int | str, replicas: int, up: bool) -> int:
    """A rollout's maxSurge (``up``) or maxUnavailable as pods: a count, or a share of the replicas rounded as
    Kubernetes rounds it."""
    if isinstance(value, int):
        return value
    share = int(value.rstrip("%")) * replicas
    return -(-share // 100) if up else share // 100


def yaml_line(path: Path, keys: tuple[str, ...]) -> int | None:
    """The line (from 1) of the mapping key path ``keys`` in a YAML file, or of the deepest of its keys there."""
    documents = _documents(path)
    return _line(documents[0], keys) if documents else None


def _documents(path: Path) -> list[yaml.Node]:
    try:
        return [node for node in yaml.compose_all(path.read_text()) if node is not None]
    except (OSError, yaml.YAMLError):
        return []


def _line(node: yaml.Node | None, keys: tuple[str, ...]) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for key in keys:
        found = _entry(node, key)
        if found is None:
            break
        line, node = found[0].start_mark.line + 1, found[1]
    return line


def _entry(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    found = _entry(node, key)
    return found[1] if found else None


def _scalar(node: yaml.Node | None, key: str) -> str | None:
    value = _child(node, key)
    return value.value if isinstance(value, yaml.ScalarNode) else None
