"""App profiles: what is upgraded. The user's compose file or Kubernetes objects, named releases, the entry, load
and write probe.

A scenario says what goes wrong and what is expected; a profile says what
is being upgraded. Paths in a profile are relative to the profile file. The
compose file and the Kubernetes manifests, kustomization or chart are read,
never changed on disk; a profile may name both, and each engine deploys the
form it speaks (Kubernetes prefers the objects).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from harness.checks import Capture, Check, placeholders
from harness.errors import EnvironmentProblem, ProfileError
from harness.load import MAX_RATE, MIN_RATE
from harness.app.compose_check import check_compose, path_problems
from harness.app.manifests import KubernetesSource, Workload, check_manifests, render, workloads
from harness.app.revision import revision
from harness.cluster.config import STACK_NAME
from harness.models import Strict, format_errors, load_model

RELEASE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"  # a valid image tag: release names become tags
BROKEN = "broken"  # the release the harness synthesises from the new one
ROLES = ("old", "new", BROKEN)
HTTP_METHODS = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
WRITE_ID = "{id}"


class Build(Strict):
    """How to build an image: a context directory (relative to the profile), its Dockerfile and build args."""

    context: str
    dockerfile: str | None = None
    args: dict[str, str] = {}


class ImageSource(Strict):
    """An image as the host's engine names it, built first when ``build`` is given and the image is missing."""

    image: str = Field(min_length=1, max_length=255, pattern=r"^[^\s]+$")
    build: Build | None = None


def _image_source(value: Any) -> Any:
    return {"image": value} if isinstance(value, str) else value


ServiceImage = Annotated[ImageSource, BeforeValidator(_image_source)]


def _fold_status(value: Any, default: list) -> Any:
    """A request's ``status`` is short for its ``check.status``; ``default`` when neither says."""
    check = value.get("check", {}) if isinstance(value, dict) else None
    if not isinstance(check, dict):
        return value
    if "status" in value and "status" in check:
        raise ValueError("give status or check.status, not both")
    rest = {k: v for k, v in value.items() if k != "status"}
    return {**rest, "check": {**check, "status": value.get("status", check.get("status", default))}}


class Health(Strict):
    """The health check: HAProxy asks each task of the entry service for ``path`` and accepts the statuses of
    ``check``; the harness's own probes judge the whole check."""

    path: str = Field("/", pattern=r"^/\S*$")
    check: Check = Check(status=[200])

    @model_validator(mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return _fold_status(value, [200])

    @field_validator("check")
    @classmethod
    def _no_redirects(cls, check: Check) -> Check:
        if check.follow_redirects:
            raise ValueError("the load balancer's health check does not follow redirects")
        return check


class Entry(Strict):
    """The service and container port clients reach, through the harness's load balancer."""

    service: str
    port: int = Field(ge=1, le=65535)
    health: Health = Health()


class Request(Strict):
    """One kind of request clients make, and the check its answer must pass (``status`` is short for
    ``check.status``; default any 2xx, redirects not followed)."""

    name: str = Field("read", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    method: HTTP_METHODS = "GET"
    path: str = Field(pattern=r"^/\S*$")
    weight: float = Field(1.0, gt=0, le=1000)
    body: str | None = None
    headers: dict[str, str] = {}
    check: Check = Check()

    @model_validator(mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return _fold_status(value, ["2xx"])

    def texts(self) -> list[str]:
        """The path, body and header values: where a placeholder may stand."""
        return [self.path, *([self.body] if self.body is not None else []), *self.headers.values()]

    def placeholders(self) -> set[str]:
        """The placeholders the request and its check name."""
        return {p for text in (*self.texts(), *self.check.texts()) for p in placeholders(text)}


class Load(Strict):
    """The requests clients make, weighted, or a locustfile of the user's own with its own User classes.

    ``rate``, when given, is the total request rate this app is tested at: it
    replaces every scenario's ``load.rate`` (an app that cannot serve the
    scenarios' rate on the cluster's machine would otherwise fail from overload).
    """

    requests: list[Request] = []
    locustfile: str | None = None
    rate: float | None = Field(None, ge=MIN_RATE, le=MAX_RATE)

    @model_validator(mode="after")
    def _one_source(self) -> Load:
        if self.requests and self.locustfile:
            raise ValueError("give requests or a locustfile, not both")
        if any(r.placeholders() for r in self.requests):
            raise ValueError(f"load requests cannot name {WRITE_ID} or {{captured.NAME}}: only writes have them")
        return self


class Write(Request):
    """The write of the probe: ``{id}`` is a fresh id per write; ``capture`` takes the values the server chose."""

    name: str = Field("write", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    method: HTTP_METHODS = "POST"
    capture: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,40}$")], Capture] = Field({}, max_length=10)


class Read(Request):
    """The read-back of one write. An answer that passes ``check`` means present; one that passes ``absent``
    (when given; else any answer but a 5xx) means absent; anything else, unverifiable."""

    name: str = Field("readback", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    absent: Check | None = None

    def placeholders(self) -> set[str]:
        return super().placeholders() | {p for t in (self.absent.texts() if self.absent else []) for p in placeholders(t)}


class Writes(Strict):
    """A probe for acknowledged writes: ``write`` stores something, ``read`` reads it back by ``{id}`` or by
    what the write captured (``{captured.NAME}``); ``rereads`` per second re-read acknowledged writes while the
    upgrade and the faults happen (0: none). ``read_all``, when the app offers one, is a listing whose answer
    passes ``read.check`` for every write it holds: the final read-back asks it once, and reads one by one only
    the writes it does not show."""

    write: Write
    read: Read
    rereads: float = Field(1.0, ge=0, le=100)
    read_all: Request | None = None

    @model_validator(mode="after")
    def _placeholders_fit(self) -> Writes:
        problem = self._write_problem() or self._read_problem() or self._listing_problem()
        if problem:
            raise ValueError(problem)
        return self

    def _write_problem(self) -> str | None:
        write = self.write
        if not write.capture and not any(WRITE_ID in t for t in write.texts()):
            return (f"the write must carry {WRITE_ID} in its path, body or headers, or capture what the server "
                    "assigned (write.capture)")
        named = write.placeholders() - {"id"}
        return f"the write can name only {WRITE_ID}: {', '.join(sorted(named))} come from its answer" if named else None

    def _read_problem(self) -> str | None:
        used = self.read.placeholders()
        unknown = used - {"id", *(f"captured.{name}" for name in self.write.capture)}
        if unknown:
            return (f"the read names {', '.join(f'{{{u}}}' for u in sorted(unknown))}; the write captures "
                    f"{', '.join(sorted(self.write.capture)) or 'nothing'}")
        if not used:
            return (f"the read must name {WRITE_ID} or a captured value (such as {{captured.id}}) in its path, body "
                    "or checks: otherwise it reads the same thing for every write")
        return None

    def _listing_problem(self) -> str | None:
        if self.read_all is None:
            return None
        if self.read_all.placeholders():
            return "read_all is one request for every write: it cannot name {id} or captured values"
        if not any(placeholders(t) for t in self.read.check.texts()):
            return ("with read_all, read.check must name {id} or a captured value (such as contains: \"{id}\"): it "
                    "judges, for each write, whether the listing holds it")
        return None


class AppProfile(Strict):
    """The system under test, as a profile file describes it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    description: str = ""
    compose: str | None = None
    kubernetes: KubernetesSource | None = None
    releases: dict[Annotated[str, Field(pattern=RELEASE_NAME)], dict[str, ServiceImage]] = Field(min_length=1)
    entry: Entry
    load: Load = Load()
    writes: Writes | None = None
    stateful: list[str] = []

    @model_validator(mode="after")
    def _a_form(self) -> AppProfile:
        if self.compose is None and self.kubernetes is None:
            raise ValueError("name the app's compose file (compose), its Kubernetes objects (kubernetes), or both")
        return self

    @field_validator("releases")
    @classmethod
    def _releases_agree(cls, releases: dict[str, dict[str, ImageSource]]) -> dict[str, dict[str, ImageSource]]:
        if BROKEN in releases:
            raise ValueError(f"a release may not be called {BROKEN!r}: the harness synthesises that one")
        services = {name: sorted(images) for name, images in releases.items()}
        if any(not s for s in services.values()) or len({tuple(s) for s in services.values()}) != 1:
            raise ValueError(f"every release must name the same, non-empty set of services (those an upgrade "
                             f"changes); these name {services}")
        return releases


@dataclass(frozen=True)
class Profile:
    """A validated profile with the compose document and the Kubernetes objects it names, and what the harness will
    do differently."""

    model: AppProfile
    path: Path
    compose: dict  # empty without a compose file
    notes: dict[str, tuple[str, ...]]  # form -> what the harness changes when it deploys that form
    manifests: tuple[dict, ...] = ()  # the Kubernetes objects, rendered; empty without a kubernetes form
    unrendered: str = ""  # why the kubernetes form is not rendered (a tool not built yet), when it is not
    revision: str = ""  # a digest of the profile and the files it names (``app.revision``)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every form's notes, each after the file it is about."""
        return self.warnings_of(self.notes)

    def warnings_of(self, forms: Iterable[str]) -> tuple[str, ...]:
        """The notes of the forms ``forms`` (those the engines at hand deploy), each after the file it is about."""
        files = {"compose": self.model.compose, "kubernetes": self.model.kubernetes and self.model.kubernetes.path}
        return tuple(f"{files[form]}: {note}" for form, notes in self.notes.items() if form in forms for note in notes)

    @property
    def forms(self) -> tuple[str, ...]:
        """The forms the app is given in: ``compose``, ``kubernetes`` or both."""
        return tuple(form for form in ("compose", "kubernetes") if getattr(self.model, form) is not None)

    @cached_property
    def workloads(self) -> dict[str, Workload]:
        """The Kubernetes workloads by name (none without a kubernetes form), read once."""
        return workloads(self.manifests)

    @property
    def services(self) -> tuple[str, ...]:
        """Every service of the app: the compose file's, else the Kubernetes workloads'."""
        if self.compose:
            return tuple(self.compose["services"])
        return tuple(self.workloads)

    @property
    def upgraded(self) -> tuple[str, ...]:
        """The services an upgrade changes, in the order the app names them."""
        named = next(iter(self.model.releases.values()))
        return tuple(s for s in self.services if s in named)

    def relative(self, path: str) -> Path:
        """A path named in the profile, relative to the profile file."""
        return (self.path.parent / path).resolve()

    def release_name(self, wanted: str) -> str:
        """A scenario's ``from``/``to``: a release of this profile, or the role ``old``, ``new`` or ``broken``."""
        names = list(self.model.releases)
        if wanted in names or wanted == BROKEN:
            return wanted
        if wanted == "old":
            return names[0]
        if wanted == "new":
            if len(names) < 2:
                raise ProfileError(f"{self.path}: releases: the profile has one release ({names[0]}); "
                                   "an upgrade to `new` needs a second one")
            return names[-1]
        raise ProfileError(f"{self.path}: releases: the scenario asks for release {wanted!r}; this profile has "
                           f"{', '.join(names)} (or use the roles {', '.join(ROLES)})")


def load_profile(path: Path | str) -> Profile:
    """Read and validate a profile and the compose file or Kubernetes objects it names; every problem at once,
    before anything starts."""
    path = Path(path)
    model = load_model(path, AppProfile, "app profile", ProfileError)
    named = [(("compose",), model.compose, "path")] if model.compose is not None else []
    named += model.kubernetes.named_paths() if model.kubernetes is not None else []
    if model.load.locustfile is not None:
        named.append((("load", "locustfile"), model.load.locustfile, "file"))
    revised = [text for _, text, _ in named]  # the app's files; a build context's sources are its image tag's
    named += [(("releases", release, service, "build", "context"), source.build.context, "directory")
              for release, images in model.releases.items() for service, source in images.items() if source.build]
    compose, manifests, problems, notes = {}, [], path_problems(path.parent, named), {}
    if not problems and model.compose is not None:
        compose, problems, notes["compose"] = check_compose(model, (path.parent / model.compose).resolve(),
                                                            path.parent)
    unrendered = ""
    if not problems and model.kubernetes is not None:
        try:
            manifests, problems, notes["kubernetes"] = _kubernetes_objects(model, path)
        except EnvironmentProblem as missing:
            if model.compose is None:
                raise
            unrendered, notes["kubernetes"] = str(missing), [f"not rendered: {missing}; Swarm deploys the compose file"]
    if problems:
        raise ProfileError(format_errors(path, problems, AppProfile, "app profile"))
    return Profile(model, path.resolve(), compose, {form: tuple(found) for form, found in notes.items()},
                   tuple(manifests), unrendered, revision(path, revised))


def _kubernetes_objects(model: AppProfile, path: Path) -> tuple[list[dict], list[dict], list[str]]:
    """The profile's Kubernetes objects rendered (a chart as its release, named after the profile unless it says, in
    the stack's namespace), the problems that make them unusable, and what the harness changes."""
    source = model.kubernetes
    assert source is not None
    try:
        documents = render(source, path.parent, source.release or model.name, STACK_NAME)
    except ProfileError as error:
        return [], [{"loc": ("kubernetes",), "input": source.path, "msg": str(error)}], []
    where = "the manifests" if source.manifests else "the kustomization" if source.kustomize else "the chart"
    return check_manifests(model, documents, where, STACK_NAME)
