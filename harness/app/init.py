"""``chaos-harness app init``: a starting profile for a compose file, with what to fill in said in comments."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from harness.app.compose_check import declared_ports
from harness.errors import ProfileError
from harness.models import read_yaml_mapping

_TAG = re.compile(r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$")


def guess_entry(services: dict) -> tuple[str, int]:
    """The service clients reach: the first that publishes (or exposes) a port, and that port."""
    for name, spec in services.items():
        ports = declared_ports(spec if isinstance(spec, dict) else {})
        if ports:
            return name, min(ports)
    raise ProfileError("no service of the compose file publishes or exposes a port: "
                       "write entry.service and entry.port in the profile yourself")


def starting_profile(compose_path: Path, profile_path: Path) -> str:
    """The text of a profile for ``compose_path``, to be saved as ``profile_path``."""
    compose = read_yaml_mapping(compose_path, "compose file", ProfileError)
    services = compose.get("services")
    if not isinstance(services, dict) or not services:
        raise ProfileError(f"{compose_path}: services: a compose file needs at least one service")
    entry, port = guess_entry(services)
    image = str(services[entry].get("image") or f"{entry}:latest")
    tag = _TAG.search(image.split("@")[0])
    current = tag.group(1) if tag else "latest"
    repository = image.split("@")[0][: tag.start()] if tag else image
    stateful = [name for name, spec in services.items() if name != entry and _named_volumes(spec)]
    compose_ref = os.path.relpath(compose_path.resolve(), profile_path.resolve().parent)
    name = re.sub(r"[^a-z0-9-]", "-", compose_path.resolve().parent.name.lower()).strip("-")[:30] or "app"
    if not name[0].isalpha():
        name = f"app-{name}"[:31]
    source = json.dumps(image)
    build = services[entry].get("build")
    if build:  # the compose file builds it: so does the profile, from the same context
        context = build if isinstance(build, str) else build.get("context", ".")
        built = os.path.relpath((compose_path.parent / context).resolve(), profile_path.resolve().parent)
        args = build.get("args") if isinstance(build, dict) else None
        extra = f", args: {json.dumps({str(k): str(v) for k, v in args.items()})}" if isinstance(args, dict) else ""
        source = f"{{image: {json.dumps(image)}, build: {{context: {json.dumps(built)}{extra}}}}}"
    return _TEMPLATE.format(
        name=name, compose=compose_ref, current=json.dumps(current), entry=entry, image=source,
        next_image=json.dumps(f"{repository}:NEXT"), port=port,
        stateful=json.dumps(stateful), services=", ".join(services))


def _named_volumes(spec: dict) -> bool:
    volumes = spec.get("volumes") or [] if isinstance(spec, dict) else []
    return any(isinstance(v, str) and not v.startswith((".", "/", "~")) and ":" in v for v in volumes) or any(
        isinstance(v, dict) and v.get("type", "volume") == "volume" for v in volumes)


_TEMPLATE = """\
# chaos-harness app profile, written by `chaos-harness app init`.
# Check it with `chaos-harness app check <this file>`; run with
# `chaos-harness run scenarios/halted-node.yaml --app <this file>`.
# Paths are relative to this file. The compose file is never changed on disk.
name: {name}
compose: {compose}
# Named releases: service -> image. The services a release names are the ones
# an upgrade changes. The first release is "old", the last "new"; scenarios
# may also ask for "broken", which the harness makes from the new one.
# Images come from this host's Docker engine, or are built when given
#   {{image: "repo:tag", build: {{context: dir, args: {{KEY: value}}}}}}
releases:
  {current}:
    {entry}: {image}
  # TODO: the release you upgrade to (an image on this host, or a build section).
  next:
    {entry}: {next_image}
# The service and container port clients reach through the harness's load
# balancer, and the health check it runs on each task.
entry:
  service: {entry}
  port: {port}
  health: {{path: /, status: [200]}}  # TODO: your health endpoint and the statuses it answers
# The requests clients make (weights are shares), or `locustfile: file.py`.
load:
  requests:
    - {{name: home, method: GET, path: /, weight: 1}}
# Optional: acknowledged writes and their read-back, so lost writes are counted.
# writes:
#   write: {{method: POST, path: "/items", body: '{{"id": "{{id}}"}}', headers: {{Content-Type: application/json}}, status: [201]}}
#   read: {{method: GET, path: "/items/{{id}}", status: [200]}}
# Services whose data lives on their node (pinned to one node). Services: {services}
stateful: {stateful}
"""
