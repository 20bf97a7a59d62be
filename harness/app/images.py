"""The images of an app profile: found or built on this host, a broken release synthesised, pushed for the nodes.

Every image a node runs comes from the cluster's registry, so registry faults
hit the user's images exactly as they would in production. In the registry an
upgraded service's image is tagged with its release name; that tag is how the
harness tells releases apart in everything the engine reports.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from docker.errors import APIError, ImageNotFound

from harness.app.compose_check import declared_ports
from harness.app.profile import BROKEN, ImageSource, Profile
from harness.build import ImageBuilder
from harness.errors import HarnessError, ProfileError
from harness.models import format_errors

BASE_TAG = "stack"  # the tag of a service's image that no release changes
BROKEN_PROBE = "/chaos-harness/this-release-is-broken"  # exists in no image: the health check always fails
Push = Callable[[str, str, str], object]  # (local image, repository, tag)


@dataclass(frozen=True)
class LocalImages:
    """The local image of every service in every release (and of the services no release changes)."""

    app: str
    releases: dict[str, dict[str, str]]  # release -> service -> local image
    base: dict[str, str]  # service -> local image

    def pushes(self) -> list[tuple[str, str, str]]:
        """(local image, repository, tag) for every image the nodes need."""
        pushes = [(image, repository(self.app, service), release)
                  for release, images in self.releases.items() for service, image in images.items()]
        return pushes + [(image, repository(self.app, service), BASE_TAG) for service, image in self.base.items()]


def repository(app: str, service: str) -> str:
    """Where the nodes find a service's images in the cluster registry (below its namespace)."""
    return f"{app}/{service}"


def prepare(profile: Profile, builder: ImageBuilder, broken_from: str | None = None) -> LocalImages:
    """Find or build every image the profile names; with ``broken_from``, synthesise the broken release from it.

    Every missing image is named at once, with where the profile or compose file names it.
    """
    problems: list[dict] = []
    local = {place.loc: _local(builder, place, problems) for place in _sources(profile)}
    releases = {name: {service: local[("releases", name, service)] for service in images}
                for name, images in profile.model.releases.items()}
    base = {loc[1]: image for loc, image in local.items() if loc[0] == "services"}
    if problems:
        raise ProfileError(format_errors(profile.path, problems, type(profile.model), "app profile"))
    _check_entry_port(builder, profile, releases)
    if broken_from is not None:
        releases[BROKEN] = {service: synthesise_broken(builder, profile.name, service, image)
                            for service, image in releases[broken_from].items()}
    return LocalImages(profile.name, releases, base)


def push(images: LocalImages, push_one: Push) -> None:
    """Push every image to the cluster's registry: the repositories side by side, since each push compresses its new
    layers on one core; a repository's tags one after another, since they share most layers (uploaded once)."""
    by_repository: dict[str, list[tuple[str, str, str]]] = {}
    for local, repo, tag in images.pushes():
        by_repository.setdefault(repo, []).append((local, repo, tag))
    with ThreadPoolExecutor(max(1, len(by_repository))) as pool:
        batches = [pool.submit(_push_in_order, push_one, pushes) for pushes in by_repository.values()]
    for batch in batches:
        batch.result()  # every push has ended: the first repository whose push failed raises


def _push_in_order(push_one: Push, pushes: list[tuple[str, str, str]]) -> None:
    for local, repo, tag in pushes:
        push_one(local, repo, tag)


def synthesise_broken(builder: ImageBuilder, app: str, service: str, image: str) -> str:
    """The same image with a health check that can never pass: a release that starts and never becomes healthy."""
    dockerfile = (f"# synthesised from {builder.image_id(image)}\nFROM {image}\n"
                  f'HEALTHCHECK --interval=2s --timeout=1s --start-period=1s --retries=2 CMD ["{BROKEN_PROBE}"]\n')
    return builder.build_dockerfile(dockerfile, f"chaos-harness/{app}-{service}:{BROKEN}")


def _compose_source(spec: dict) -> ImageSource:
    build = spec.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if isinstance(build, dict):
        build = {k: v for k, v in build.items() if k in ("context", "dockerfile", "args")}
        build["args"] = {str(k): str(v) for k, v in (build.get("args") or {}).items()} \
            if isinstance(build.get("args"), dict) else {}
    return ImageSource(image=spec["image"], build=build)


@dataclass(frozen=True)
class _Source:
    """Where the profile (or its compose file) names an image, and how that image is had."""

    loc: tuple  # ("releases", release, service) or ("services", service, "image")
    source: ImageSource
    relative: Callable[[str], Path]  # a build context's path as its file means it
    file: Path | None = None  # the compose file, for an image it names

    def problem(self, message: str) -> dict:
        return {"loc": self.loc, "input": self.source.image, "msg": message, **({"file": self.file} if self.file else {})}


def _sources(profile: Profile) -> list[_Source]:
    """Every image of every release, then every image no release changes: of each compose service, and of each
    container of the Kubernetes workloads (``workload/container``; with the build section of a release or compose
    service that names the same image)."""
    found = [_Source(("releases", name, service), source, profile.relative)
             for name, images in profile.model.releases.items() for service, source in images.items()]
    if profile.compose:
        compose_file = profile.relative(profile.model.compose or "")
        found += [_Source(("services", service, "image"), _compose_source(spec),
                          lambda path: (compose_file.parent / path).resolve(), compose_file)
                  for service, spec in profile.compose["services"].items() if service not in profile.upgraded]
    built = {place.source.image: place for place in found if place.source.build is not None}
    return found + [replace(built[image], loc=("services", key, "image")) if image in built  # made by that build
                    else _Source(("services", key, "image"), ImageSource(image=image), profile.relative)
                    for key, image in base_containers(profile).items()]


def base_containers(profile: Profile) -> dict[str, str]:
    """``workload/container`` -> image of every Kubernetes container no release changes."""
    found = profile.workloads
    upgraded = {(name, found[name].upgraded_container()) for name in profile.upgraded if name in found}
    return {f"{name}/{container}": image for name, workload in found.items()
            for container, image in workload.containers.items() if (name, container) not in upgraded}


def check_sources(profile: Profile, builder: ImageBuilder) -> None:
    """Without building anything: every image without a build section is on this host's engine (the profile's
    model checked the build contexts); ProfileError naming each one that is not, as ``prepare`` would."""
    problems = []
    for place in _sources(profile):
        try:
            if place.source.build is None:
                builder.image_id(place.source.image)
        except ImageNotFound:
            problems.append(place.problem(MISSING_IMAGE))
        except APIError as error:  # a name Docker cannot even look up
            problems.append(place.problem(f"Docker cannot look it up: {error.explanation or error}"))
    if problems:
        raise ProfileError(format_errors(profile.path, problems, type(profile.model), "app profile"))


MISSING_IMAGE = "no such image on this host's Docker engine, and no build section to make it"


def _local(builder: ImageBuilder, place: _Source, problems: list[dict]) -> str:
    """The local image for ``place``: built when it has a build section, else as the host's engine has it."""
    source = place.source
    try:
        if source.build is not None:
            context = place.relative(source.build.context)
            if not context.is_dir():
                raise ProfileError(f"its build context {context} is not a directory")
            return builder.build_context(context, source.image, source.build.dockerfile, source.build.args)
        builder.image_id(source.image)
        return source.image
    except ImageNotFound:
        problems.append(place.problem(MISSING_IMAGE))
    except APIError as error:  # a name Docker cannot even look up
        problems.append(place.problem(f"Docker cannot look it up: {error.explanation or error}"))
    except HarnessError as error:
        problems.append(place.problem(str(error)))
    return ""


def _check_entry_port(builder: ImageBuilder, profile: Profile, releases: dict[str, dict[str, str]]) -> None:
    """When the compose file declares no port for the entry service, its image must expose the entry port."""
    entry = profile.model.entry
    workload = profile.workloads.get(entry.service)
    if (profile.compose and declared_ports(profile.compose["services"][entry.service])) or (workload and
                                                                                          workload.ports):
        return  # checked against the compose file or the manifests already
    exposed = builder.exposed_ports(next(iter(releases.values()))[entry.service])
    if exposed and entry.port not in exposed:
        raise ProfileError(f"{profile.path}: entry.port: got {entry.port}: the image of {entry.service} exposes "
                           f"{', '.join(map(str, sorted(exposed)))}, and "
                           f"{'the compose file declares' if profile.compose else 'the manifests declare'} no port")
