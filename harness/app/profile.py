"""App profiles: what is upgraded. The user's compose file, named releases, the entry, load and write probe.

A scenario says what goes wrong and what is expected; a profile says what
is being upgraded. Paths in a profile are relative to the profile file. The
compose file is read, never changed on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from harness.errors import ProfileError
from harness.load import MAX_RATE
from harness.app.compose_check import check_compose
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
Status = Annotated[int, Field(ge=100, le=599)]


class Health(Strict):
    """The health check the harness's load balancer runs against each task of the entry service."""

    path: str = Field("/", pattern=r"^/\S*$")
    status: list[Status] = Field([200], min_length=1)


class Entry(Strict):
    """The service and container port clients reach, through the harness's load balancer."""

    service: str
    port: int = Field(ge=1, le=65535)
    health: Health = Health()


class Request(Strict):
    """One kind of request clients make. ``status`` lists the accepted statuses (default any 2xx or 3xx)."""

    name: str = Field("read", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    method: HTTP_METHODS = "GET"
    path: str = Field(pattern=r"^/\S*$")
    weight: float = Field(1.0, gt=0, le=1000)
    body: str | None = None
    headers: dict[str, str] = {}
    status: list[Status] | None = None


class Load(Strict):
    """The requests clients make, weighted, or a locustfile of the user's own with its own User classes.

    ``rate``, when given, is the total request rate this app is tested at: it
    replaces every scenario's ``load.rate`` (an app that cannot serve the
    scenarios' rate on the cluster's machine would otherwise fail from overload).
    """

    requests: list[Request] = []
    locustfile: str | None = None
    rate: float | None = Field(None, gt=0, le=MAX_RATE)

    @model_validator(mode="after")
    def _one_source(self) -> Load:
        if self.requests and self.locustfile:
            raise ValueError("give requests or a locustfile, not both")
        return self


class Writes(Strict):
    """A probe for acknowledged writes: ``write`` stores an id (``{id}`` in its path or body), ``read`` reads it back."""

    write: Request
    read: Request

    @model_validator(mode="after")
    def _carry_the_id(self) -> Writes:
        if WRITE_ID not in self.write.path and WRITE_ID not in (self.write.body or ""):
            raise ValueError(f"the write request must carry {WRITE_ID} in its path or body")
        if WRITE_ID not in self.read.path:
            raise ValueError(f"the read request must carry {WRITE_ID} in its path")
        return self


class AppProfile(Strict):
    """The system under test, as a profile file describes it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    description: str = ""
    compose: str
    releases: dict[Annotated[str, Field(pattern=RELEASE_NAME)], dict[str, ServiceImage]] = Field(min_length=1)
    entry: Entry
    load: Load = Load()
    writes: Writes | None = None
    stateful: list[str] = []

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
    """A validated profile with the compose document it names and what the harness will do differently."""

    model: AppProfile
    path: Path
    compose: dict
    warnings: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def upgraded(self) -> tuple[str, ...]:
        """The services an upgrade changes, in compose order."""
        named = next(iter(self.model.releases.values()))
        return tuple(s for s in self.compose["services"] if s in named)

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
    """Read and validate a profile and the compose file it names; every problem at once, before anything starts."""
    path = Path(path)
    model = load_model(path, AppProfile, "app profile", ProfileError)
    compose_path = (path.parent / model.compose).resolve()
    compose, problems, warnings = check_compose(model, compose_path, path.parent)
    if problems:
        raise ProfileError(format_errors(path, problems, AppProfile, "app profile"))
    return Profile(model, path.resolve(), compose, tuple(warnings))
