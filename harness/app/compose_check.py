"""Is a user's compose file something Swarm can run, and does the profile fit it?

Problems stop the run before anything starts; warnings name what Swarm (or
the harness) ignores or changes, so nothing is changed silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ProfileError
from harness.models import read_yaml_mapping

if TYPE_CHECKING:
    from harness.app.profile import AppProfile

Problem = dict[str, Any]

IGNORED_BY_SWARM = {
    "depends_on": "Swarm starts services in any order",
    "container_name": "Swarm names the containers itself",
    "restart": "Swarm uses deploy.restart_policy instead",
    "links": "services find each other by name on their networks",
    "build": "the image is built on this host and pushed to the cluster's registry instead",
}


def check_compose(model: AppProfile, path: Path, profile_dir: Path) -> tuple[dict, list[Problem], list[str]]:
    """The compose document, the problems that make it unusable, and warnings about what will change."""
    compose, problem = _read(path, model.compose)
    if problem:
        return {}, [problem], []
    problems = [p for p in (_version(compose, path), _services(compose, path)) if p]
    if problems:
        return compose, problems, []
    services = compose["services"]
    problems += [{"file": path, "loc": ("services", name), "input": spec,
                  "msg": "a service is a mapping with an image (and optionally a build section)"}
                 for name, spec in services.items() if not isinstance(spec, dict) or not spec.get("image")]
    if problems:
        return compose, problems, []
    problems += _profile_fits(model, services) + _missing_files(compose, path)
    return compose, problems, _warnings(compose, model)


def _read(path: Path, named: str) -> tuple[dict, Problem | None]:
    try:
        document = read_yaml_mapping(path, "compose file", ProfileError)
    except ProfileError as error:
        return {}, {"loc": ("compose",), "input": named, "msg": str(error)}
    return document, None


def _version(compose: dict, path: Path) -> Problem | None:
    version = compose.get("version")
    if version is None or str(version).startswith("3"):
        return None
    return {"file": path, "loc": ("version",), "input": version,
            "msg": "Swarm deploys compose files of version 3.x (or without a version)"}


def _services(compose: dict, path: Path) -> Problem | None:
    services = compose.get("services")
    if isinstance(services, dict) and services:
        return None
    return {"file": path, "loc": ("services",), "input": services, "msg": "a compose file needs at least one service"}


def _profile_fits(model: AppProfile, services: dict) -> list[Problem]:
    """Every service the profile names exists in the compose file, and the entry port is exposed."""
    known = ", ".join(services)
    problems = [{"loc": ("releases", release, service), "input": service,
                 "msg": f"the compose file has no such service; it has {known}"}
                for release, images in model.releases.items() for service in images if service not in services]
    problems += [{"loc": ("stateful", i), "input": service, "msg": f"the compose file has no such service; it has {known}"}
                 for i, service in enumerate(model.stateful) if service not in services]
    entry = model.entry
    upgraded = next(iter(model.releases.values()))
    if entry.service not in services:
        problems.append({"loc": ("entry", "service"), "input": entry.service,
                         "msg": f"the compose file has no such service; it has {known}"})
    elif entry.service not in upgraded:
        problems.append({"loc": ("entry", "service"), "input": entry.service,
                         "msg": f"the entry must be a service the releases upgrade ({', '.join(upgraded)}): the "
                                "load balancer tells releases apart by the entry's tasks; point entry at the "
                                "upgraded service and its port"})
    elif (exposed := declared_ports(services[entry.service])) and entry.port not in exposed:
        problems.append({"loc": ("entry", "port"), "input": entry.port,
                         "msg": f"service {entry.service} exposes {', '.join(map(str, sorted(exposed)))} in the "
                                "compose file, not this port"})
    return problems


def _missing_files(compose: dict, path: Path) -> list[Problem]:
    """``env_file`` entries and configs or secrets from files that do not exist beside the compose file."""
    problems = []
    for name, spec in compose["services"].items():
        files = spec.get("env_file") or []
        for index, file in enumerate([files] if isinstance(files, str) else files):
            named = file.get("path") if isinstance(file, dict) else file
            if not (path.parent / str(named)).is_file():
                problems.append({"file": path, "loc": ("services", name, "env_file", index), "input": named,
                                 "msg": f"no such file beside the compose file ({path.parent})"})
    for kind in ("configs", "secrets"):
        for name, spec in (compose.get(kind) or {}).items():
            if isinstance(spec, dict) and "file" in spec and not (path.parent / str(spec["file"])).is_file():
                problems.append({"file": path, "loc": (kind, name, "file"), "input": spec["file"],
                                 "msg": f"no such file beside the compose file ({path.parent})"})
    return problems


def declared_ports(service: dict) -> set[int]:
    """Container ports a compose service publishes or exposes (empty when it declares none)."""
    ports: set[int] = set()
    for item in (service.get("ports") or []) + (service.get("expose") or []):
        target = item.get("target") if isinstance(item, dict) else str(item).split("/")[0].rsplit(":", 1)[-1]
        try:
            ports.add(int(target))
        except (TypeError, ValueError):
            continue  # a range such as 8000-8010 is not an entry port
    return ports


def _warnings(compose: dict, model: AppProfile) -> list[str]:
    warnings = []
    for name, spec in compose["services"].items():
        for key, why in IGNORED_BY_SWARM.items():
            if key in spec:
                warnings.append(f"services.{name}.{key} is ignored: {why}")
        if spec.get("ports"):
            warnings.append(f"services.{name}.ports are not published: clients reach {model.entry.service} "
                            "through the harness's load balancer")
        if str(spec.get("network_mode", "")).startswith(("host", "service:", "container:")):
            warnings.append(f"services.{name}.network_mode is not supported by Swarm and is dropped")
        if any(isinstance(v, str) and v.startswith((".", "/")) and ":" in v for v in spec.get("volumes") or []):
            warnings.append(f"services.{name}.volumes has bind mounts: the nodes have no such host paths")
        mode = (spec.get("deploy") or {}).get("mode")
        if mode == "global" and name in next(iter(model.releases.values())):
            warnings.append(f"services.{name} is global: a scenario's replicas do not apply to it")
    return warnings
