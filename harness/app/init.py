"""``chaos-harness app init``: a starting profile for a compose file or Kubernetes objects (a chart, a
kustomization, manifests), with what to fill in said in comments.

The compose file is read and validated as for ``validate --app``. The entry
is the first service with a port: from the compose file (``ports`` or
``expose``), else from its image (its ``EXPOSE``, asked of this host's engine),
else from the Dockerfile of its build section (what the build will expose).
When nothing names a port the profile is still written, with a TODO; the
port is checked against the image again once it is built (``app check``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

from harness.app.compose_check import declared_ports, missing_files, validated
from harness.app.compose_model import ComposeFile
from harness.app.manifests import KubernetesSource, mounts_claim, render, workloads
from harness.cluster.config import STACK_NAME
from harness.errors import HarnessError, ProfileError
from harness.files import KiB, read_bytes
from harness.models import format_errors, read_yaml_mapping

ImagePorts = Callable[[str], "set[int] | None"]  # the ports an image on this host exposes; None: no such image
_TAG = re.compile(r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$")
_EXPOSE_PORT = re.compile(r"([0-9]{1,5})(?:/(?:tcp|udp|sctp))?")
DEFAULT_PORT = 80
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")  # the names kubectl kustomize reads
NEXT = "next"


@dataclass(frozen=True)
class Entry:
    """The service clients reach, its port, and where the port was found (None: nowhere, a TODO)."""

    service: str
    port: int
    found_in: str | None


def starting_profile(source: Path, profile_path: Path, image_ports: ImagePorts | None = None) -> str:
    """The text of a profile for ``source`` (a compose file, or a directory of Kubernetes objects: a chart, a
    kustomization or manifests), to be saved as ``profile_path``; ``ProfileError`` naming the file, the key and
    what is allowed when it is unusable."""
    if source.is_dir() or source.suffix == ".tgz":
        return kubernetes_profile(source, profile_path)
    compose_path = source
    compose = read_compose(compose_path)
    services = compose["services"]
    entry = guess_entry(services, compose_path.parent, image_ports or host_image_ports)
    spec = services[entry.service]
    image = spec["image"]
    profile_dir = profile_path.resolve().parent
    return Template(_TEMPLATE).substitute(
        name=_profile_name(compose_path),
        form=f"compose: {json.dumps(os.path.relpath(compose_path.resolve(), profile_dir))}",
        entry=json.dumps(entry.service), **_releases(image),
        image=_image_source(image, spec.get("build"), compose_path.parent, profile_dir),
        port=entry.port, port_note=_port_note(entry), services=", ".join(services),
        stateful=json.dumps([name for name, s in services.items() if name != entry.service and _named_volumes(s)]))


def kubernetes_profile(source: Path, profile_path: Path) -> str:
    """The text of a profile for a chart (a directory with ``Chart.yaml``, or a ``.tgz``), a kustomization or a
    directory of manifests, rendered as the profile will render them: the entry is the first Deployment that mounts
    no claim, declares a container port and is exposed by a NodePort or LoadBalancer Service (else the first that
    mounts no claim and declares a port); the stateful services are the StatefulSets and the Deployments that mount
    a claim."""
    kind = ("chart" if source.suffix == ".tgz" or (source / "Chart.yaml").is_file() else
            "kustomize" if any((source / name).is_file() for name in KUSTOMIZATIONS) else "manifests")
    name = _profile_name(_named_directory(source, kind))
    objects = render(KubernetesSource(**{kind: str(source.resolve())}), Path("."), name, STACK_NAME)
    found = workloads(objects)
    deployments = [w for w in found.values() if w.kind == "Deployment"]
    if not deployments:
        raise ProfileError(f"{source}: the {kind} renders no Deployment, so there is nothing an upgrade could change "
                           f"(found: {', '.join(f'{w.kind}/{w.name}' for w in found.values()) or 'no workload'})")
    claiming = {o["metadata"]["name"] for o in objects if o.get("kind") == "Deployment" and mounts_claim(o)}
    stateless = [w for w in deployments if w.name not in claiming] or deployments
    exposed = _exposed(objects)
    entry = next((w for w in stateless if w.name in exposed and w.ports),
                 next((w for w in stateless if w.ports), stateless[0]))
    image = entry.containers[entry.upgraded_container() or entry.main[0]]
    stateful = [w.name for w in found.values()
                if w.name != entry.name and (w.kind == "StatefulSet" or w.name in claiming)]
    where = os.path.relpath(source.resolve(), profile_path.resolve().parent)
    return Template(_TEMPLATE).substitute(
        name=name, form=f"kubernetes: {{{kind}: {json.dumps(where)}}}", entry=json.dumps(entry.name),
        image=json.dumps(image), **_releases(image),
        port=min(entry.ports) if entry.ports else DEFAULT_PORT,
        port_note="" if entry.ports else f"  # TODO: the container port {entry.name} listens on: no container "
                                         "declares one",
        services=", ".join(found), stateful=json.dumps(stateful))


GENERIC_DIRECTORIES = ("k8s", "kubernetes", "manifests", "deploy", "base", "chart", "charts", "helm")


def _named_directory(source: Path, kind: str) -> Path:
    """A path whose parent's name names the app: a chart's own name (Chart.yaml's), else the directory's, or its
    parent's when the directory's says only what it holds (``k8s``, ``chart``)."""
    if kind == "chart" and source.is_dir():
        chart = read_yaml_mapping(source / "Chart.yaml", "Chart.yaml", ProfileError)
        if isinstance(chart.get("name"), str):
            return Path(chart["name"]) / "Chart.yaml"
    if kind == "chart":  # a packaged chart: NAME-VERSION.tgz
        return Path(re.sub(r"-v?\d[\w.+-]*$", "", source.name.removesuffix(".tgz"))) / "Chart.yaml"
    directory = source.resolve()
    return directory if directory.name.lower() in GENERIC_DIRECTORIES else directory / "x"


def _exposed(objects: list[dict]) -> set[str]:
    """The Deployments whose pods a Service of type NodePort or LoadBalancer selects: what clients reach."""
    selectors = [(o.get("spec") or {}).get("selector") or {} for o in objects if o.get("kind") == "Service"
                 and (o.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")]
    labels = {o["metadata"]["name"]: ((((o.get("spec") or {}).get("template") or {}).get("metadata") or {})
                                      .get("labels") or {}) for o in objects if o.get("kind") == "Deployment"}
    return {name for name, pod in labels.items() if any(s and s.items() <= pod.items() for s in selectors)}


def read_compose(path: Path) -> dict:
    """The compose document, validated as ``validate --app`` does (and the files it names there)."""
    compose = read_yaml_mapping(path, "compose file", ProfileError)
    problems = validated(compose, path) or missing_files(compose, path, set(compose["services"]))
    if problems:
        raise ProfileError(format_errors(path, [{k: v for k, v in p.items() if k != "file"} for p in problems],
                                         ComposeFile, "compose file"))
    return compose


def guess_entry(services: dict, compose_dir: Path, image_ports: ImagePorts) -> Entry:
    """The first service with a port in the compose file, else the first whose image or Dockerfile exposes one,
    else the first service on port 80 (a TODO)."""
    for name, spec in services.items():
        if ports := declared_ports(spec):
            return Entry(name, min(ports), "the compose file")
    for name, spec in services.items():
        ports, where = exposed_ports(spec, compose_dir, image_ports)
        if ports:
            return Entry(name, min(ports), where)
    return Entry(next(iter(services)), DEFAULT_PORT, None)


def exposed_ports(spec: dict, compose_dir: Path, image_ports: ImagePorts) -> tuple[set[int], str]:
    """What the service's image exposes (on this host), else what its Dockerfile exposes; and where it was read."""
    ports = image_ports(spec["image"])
    if ports:
        return ports, f"the image {spec['image']}"
    build = spec.get("build")
    if build is None:
        return set(), ""
    if isinstance(build, str):
        build = {"context": build}
    dockerfile = compose_dir / build["context"] / (build.get("dockerfile") or "Dockerfile")
    return dockerfile_ports(dockerfile), f"{dockerfile}"


def dockerfile_ports(path: Path) -> set[int]:
    """The ports a Dockerfile's ``EXPOSE`` lines name (ranges and variables left out); none if it is unreadable."""
    try:
        text = read_bytes(path, "Dockerfile", ProfileError, 256 * KiB).decode("utf-8", "replace")
    except ProfileError:
        return set()
    joined = re.sub(r"\\\r?\n", " ", text)
    words = [word for line in joined.splitlines() if line.strip().upper().startswith("EXPOSE ")
             for word in line.split()[1:]]
    return {port for word in words if (match := _EXPOSE_PORT.fullmatch(word)) and 0 < (port := int(match[1])) < 65536}


def host_image_ports(image: str) -> set[int] | None:
    """The ports ``image`` exposes as this host's Docker engine has it; None when there is no engine or no image."""
    from docker.errors import DockerException

    from harness.dockerhost import host_docker

    try:
        exposed = host_docker().images.get(image).attrs.get("Config", {}).get("ExposedPorts") or {}
    except (DockerException, HarnessError):
        return None
    return {int(match[1]) for port in exposed if (match := _EXPOSE_PORT.fullmatch(str(port)))}


def _releases(image: str) -> dict[str, str]:
    """The template's release names: the image's own (its tag), and the next one to fill in."""
    current, repository = _release_of(image)
    return {"current": json.dumps(current), "next": json.dumps(NEXT if current != NEXT else f"{NEXT}-1"),
            "next_image": json.dumps(f"{repository}:NEXT")}


def _release_of(image: str) -> tuple[str, str]:
    """The release name the image's tag makes (``latest`` without one) and its repository."""
    untagged = image.split("@")[0]
    tag = _TAG.search(untagged)
    return (tag.group(1), untagged[: tag.start()]) if tag else ("latest", untagged)


def _profile_name(compose_path: Path) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", compose_path.resolve().parent.name.lower()).strip("-")[:30] or "app"
    return name if name[0].isalpha() else f"app-{name}"[:31].rstrip("-")


def _image_source(image: str, build: str | dict | None, compose_dir: Path, profile_dir: Path) -> str:
    """The release's image, with the compose file's build section (its context relative to the profile)."""
    if build is None:
        return json.dumps(image)
    context = build if isinstance(build, str) else build["context"]
    parts = [f"context: {json.dumps(os.path.relpath((compose_dir / context).resolve(), profile_dir))}"]
    if isinstance(build, dict) and build.get("dockerfile"):
        parts.append(f"dockerfile: {json.dumps(build['dockerfile'])}")
    args = build.get("args") if isinstance(build, dict) else None
    if args:
        pairs = args.items() if isinstance(args, dict) else (item.split("=", 1) for item in args if "=" in item)
        parts.append(f"args: {json.dumps({str(k): '' if v is None else str(v) for k, v in pairs})}")
    return f"{{image: {json.dumps(image)}, build: {{{', '.join(parts)}}}}}"


def _port_note(entry: Entry) -> str:
    if entry.found_in is None:
        return (f"  # TODO: the container port {entry.service} listens on: neither the compose file nor the image "
                "names one")
    if entry.found_in == "the compose file":
        return ""
    return f"  # TODO: check it: {entry.found_in} exposes it (the compose file names no port)"


def _named_volumes(spec: dict) -> bool:
    volumes = spec.get("volumes") or []
    return any(isinstance(v, str) and not v.startswith((".", "/", "~")) and ":" in v for v in volumes) or any(
        isinstance(v, dict) and v.get("type", "volume") == "volume" for v in volumes)


_TEMPLATE = """\
# chaos-harness app profile, written by `chaos-harness app init`.
# Check it with `chaos-harness app check <this file>`; run with
# `chaos-harness run halted-node --app <this file>`.
# Paths are relative to this file. Your files are never changed on disk.
name: $name
$form
# Named releases: service -> image. The services a release names are the ones
# an upgrade changes. The first release is "old", the last "new"; scenarios
# may also ask for "broken", which the harness makes from the new one.
# Images come from this host's Docker engine, or are built when given
#   {image: "repo:tag", build: {context: dir, args: {KEY: value}}}
releases:
  $current:
    $entry: $image
  # TODO: the release you upgrade to (an image on this host, or a build section).
  $next:
    $entry: $next_image
# The service and container port clients reach through the harness's load
# balancer, and the health check it runs on each task.
entry:
  service: $entry
  port: $port$port_note
  health:
    path: /              # TODO: your health endpoint
    check: {status: [200]}
# The requests clients make (weights are shares), or `locustfile: file.py`.
# Every answer is judged by its check: accepted statuses (a redirect is not
# followed and fails unless listed), and what the body must or must not hold.
load:
  # rate: 50             # the request rate this app is tested at (requests per second):
  #                      # it replaces every scenario's load.rate; leave it out to use theirs
  requests:
    - name: home
      method: GET
      path: /
      weight: 1
      check:
        status: ["2xx"]
        not_contains: "Internal Server Error"  # TODO: or `contains:` a text every good answer has
# Optional: acknowledged writes and their read-back, so lost writes are counted.
# {id} is a fresh id per write; capture takes what the server chose for the read-back.
# writes:
#   write:
#     method: POST
#     path: /items
#     headers: {Content-Type: application/json}
#     body: '{"name": "{id}"}'
#     check: {status: [201]}
#     capture:
#       id: {json: "id"}                 # or {header: Location, regex: "/items/(\\\\d+)"}
#   read:
#     path: "/items/{captured.id}"
#     check: {status: [200], contains: "{id}"}
#     absent: {status: [404]}            # what "not there" looks like
#   rereads: 1.0                         # reads of acknowledged writes per second during the run
# Services whose data lives on their node (pinned to one node). Services: $services
stateful: $stateful
"""
