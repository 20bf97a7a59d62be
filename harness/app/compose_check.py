"""Is a user's compose file something Swarm can run, and does the profile fit it?

The file is read defensively (``harness.safe_yaml``) and validated as
``ComposeFile``: what Swarm would refuse is refused here, with the key path.
Problems stop the run before anything starts; warnings name what Swarm (or
the harness) ignores or changes, so nothing is changed silently. Nothing here
knows the profile model: a profile is whatever has ``ProfileShape``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from harness.app.compose_model import ComposeFile
from harness.app.shape import AppShape
from harness.errors import ProfileError
from harness.files import KiB, check_regular, why
from harness.models import problems as problems_of
from harness.models import read_yaml_mapping

Problem = dict[str, Any]
MAX_OBJECT_BYTES = 500 * KiB  # Swarm's limit on a config or secret
MAX_ENV_FILE_BYTES = 256 * KiB

IGNORED_BY_SWARM = {
    "depends_on": "Swarm starts services in any order",
    "container_name": "Swarm names the containers itself",
    "restart": "Swarm uses deploy.restart_policy instead",
    "links": "services find each other by name on their networks",
}


class ProfileShape(AppShape, Protocol):
    """What the compose check needs of a profile: the compose file it names, beside ``AppShape``."""

    @property
    def compose(self) -> str: ...


def check_compose(profile: ProfileShape, path: Path, profile_dir: Path) -> tuple[dict, list[Problem], list[str]]:
    """The compose document, the problems that make it unusable, and warnings about what will change."""
    compose, problem = _read(path, profile.compose)
    if problem:
        return {}, [problem], []
    problems = validated(compose, path)
    if problems:
        return compose, problems, []
    services = compose["services"]
    upgraded = set(next(iter(profile.releases.values())))  # their images come from the profile's releases
    problems = _profile_fits(profile, services) + missing_files(compose, path, set(services) - upgraded)
    return compose, problems, _warnings(compose, profile)


def validated(compose: dict, path: Path) -> list[Problem]:
    """What makes ``compose`` (read from ``path``) no compose file Swarm deploys, each naming ``path`` and the key."""
    try:
        ComposeFile.model_validate(compose)
    except ValidationError as error:
        return problems_of(error, ComposeFile, path)
    return [problem for problem in [_version(compose, path)] if problem]


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


def _profile_fits(profile: ProfileShape, services: dict) -> list[Problem]:
    """Every service the profile names exists in the compose file, and the entry port is exposed."""
    known = ", ".join(services)
    problems = [{"loc": ("releases", release, service), "input": service,
                 "msg": f"the compose file has no such service; it has {known}"}
                for release, images in profile.releases.items() for service in images if service not in services]
    problems += [{"loc": ("stateful", i), "input": service, "msg": f"the compose file has no such service; it has {known}"}
                 for i, service in enumerate(profile.stateful) if service not in services]
    entry = profile.entry
    upgraded = next(iter(profile.releases.values()))
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


def missing_files(compose: dict, path: Path, built: set[str]) -> list[Problem]:
    """Build contexts of the ``built`` services that are no directory, ``env_file`` entries and configs or secrets
    from files that are not regular files beside the compose file (of at most the size Swarm or the harness takes)."""
    problems = []
    for name, spec in compose["services"].items():
        if (build := spec.get("build")) is not None and name in built:
            context = build if isinstance(build, str) else build["context"]
            loc = ("services", name, "build") + (() if isinstance(build, str) else ("context",))
            problems += _directory_problem(path, loc, context)
        files = spec.get("env_file") or []
        for index, file in enumerate([files] if isinstance(files, str) else files):
            named = file["path"] if isinstance(file, dict) else file
            problems += _file_problem(path, ("services", name, "env_file", index), named, MAX_ENV_FILE_BYTES)
    for kind in ("configs", "secrets"):
        for name, spec in (compose.get(kind) or {}).items():
            if "file" in spec:
                problems += _file_problem(path, (kind, name, "file"), spec["file"], MAX_OBJECT_BYTES)
    return problems


def _directory_problem(compose_path: Path, loc: tuple, named: str) -> list[Problem]:
    if (compose_path.parent / named).is_dir():
        return []
    return [{"file": compose_path, "loc": loc, "input": named,
             "msg": f"no such directory beside the compose file ({compose_path.parent})"}]


def _file_problem(compose_path: Path, loc: tuple, named: str, limit: int) -> list[Problem]:
    """A file the compose file names, beside it: a regular file of at most ``limit`` bytes, or one problem."""
    file = compose_path.parent / named
    try:
        check_regular(file.stat(), file, "file", ValueError, limit)
    except FileNotFoundError:
        return [{"file": compose_path, "loc": loc, "input": named,
                 "msg": f"no such file beside the compose file ({compose_path.parent})"}]
    except (OSError, ValueError) as problem:
        return [{"file": compose_path, "loc": loc, "input": named, "msg": why(problem)}]
    return []


def path_problems(base: Path, named: list[tuple[tuple, str, str]]) -> list[Problem]:
    """Paths a profile names (``(loc, path, kind)``, relative to ``base``): no NUL byte in any, and a ``directory``
    or a regular ``file`` there when the kind says so (``path``: only the NUL check)."""
    problems = []
    for loc, text, kind in named:
        if "\x00" in text:
            problems.append({"loc": loc, "input": text, "msg": "a path has no NUL byte"})
            continue
        target = base / text
        found = target.is_dir() if kind == "directory" else target.is_file() if kind == "file" else True
        if not found:
            problems.append({"loc": loc, "input": text, "msg": f"no such {kind} (relative to {base})"})
    return problems


def declared_ports(service: dict) -> set[int]:
    """Container ports a compose service publishes or exposes (empty when it declares none); ranges are left out."""
    ports: set[int] = set()
    for item in list(service.get("ports") or []) + list(service.get("expose") or []):
        target = item.get("target") if isinstance(item, dict) else str(item).split("/")[0].rsplit(":", 1)[-1]
        try:
            ports.add(int(target))
        except (TypeError, ValueError):
            continue  # a range such as 8000-8010 is not an entry port
    return ports


def _warnings(compose: dict, profile: ProfileShape) -> list[str]:
    upgraded = next(iter(profile.releases.values()))
    warnings = []
    for name, spec in compose["services"].items():
        for key, why_ignored in IGNORED_BY_SWARM.items():
            if key in spec:
                warnings.append(f"services.{name}.{key} is ignored: {why_ignored}")
        if "build" in spec:
            warnings.append(f"services.{name}.build is used by the harness, not by Swarm: the image is built on "
                            "this host and pushed to the cluster's registry")
        if spec.get("ports"):
            warnings.append(f"services.{name}.ports are not published: clients reach {profile.entry.service} "
                            "through the harness's load balancer")
        if str(spec.get("network_mode", "")).startswith(("host", "service:", "container:")):
            warnings.append(f"services.{name}.network_mode is not supported by Swarm and is dropped")
        if any(isinstance(v, str) and v.startswith((".", "/")) and ":" in v for v in spec.get("volumes") or []):
            warnings.append(f"services.{name}.volumes has bind mounts: the nodes have no such host paths")
        if (spec.get("deploy") or {}).get("mode") == "global" and name in upgraded:
            warnings.append(f"services.{name} is global: a scenario's replicas do not apply to it")
    return warnings
