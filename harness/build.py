"""Build the harness's images locally, tagged by the hash of what went into them.

No public registry is assumed: when ``debian:bookworm-slim`` cannot be had,
a base image is bootstrapped with debootstrap and imported. An image whose
inputs did not change is not rebuilt.

Docker's image store is this engine's cache; what is made outside it is kept
per user (``harness.cache``), for every project, clone and engine: the Go
binaries an image copies in, and the bootstrapped root filesystem. A new engine,
or one whose images were pruned, imports that archive in seconds instead of
running debootstrap (which needs root and the Debian mirror) again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic

import docker
from docker.errors import APIError, ImageNotFound

from harness.cache import cached
from harness.dockerhost import LABEL_PREFIX
from harness.errors import EnvironmentProblem, HarnessError
from harness.resources import package_path

DOCKERFILES = package_path("harness", "dockerfiles")
UPSTREAM_BASE = "debian:bookworm-slim"
BOOTSTRAPPED_BASE = "chaos-harness/debian:bookworm"
DEBIAN_SUITE = "bookworm"
STEP_QUIET = 15.0  # seconds: a step running longer shows its latest output line this often
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_ARCHIVE = "rootfs.tar.gz"

Progress = Callable[[str], None]


TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
TOXIPROXY_VERSION = "v2.5.0"


@dataclass(frozen=True)
class Binaries:
    """Files an image copies in that are built outside Docker: what names them exactly (their module and
    version, for the image's content hash), and how to get them (path in the context -> file)."""

    identity: str
    get: Callable[[Progress], dict[str, Path]]


@dataclass(frozen=True)
class ImageSpec:
    """One image: a build context under ``dockerfiles/``, build arguments, and binaries built on the host."""

    context: str
    build_args: dict[str, str] = field(default_factory=dict)
    binaries: tuple[Binaries, ...] = ()

    def content_hash(self, base_image_id: str) -> str:
        inputs = json.dumps([self.build_args, [b.identity for b in self.binaries]], sort_keys=True)
        return _tree_hash(DOCKERFILES / self.context, [base_image_id, inputs])


def go_installed(name: str, module: str) -> Binaries:
    """``module@version``'s command, ``go install``ed, as the file ``name`` of the context."""
    return Binaries(f"{name}={module}", lambda progress: {name: go_binary(name, module, progress)})


NODE_IMAGE = ImageSpec("node")
REGISTRY_IMAGE = ImageSpec("registry")
TOXIPROXY_IMAGE = ImageSpec("toxiproxy", binaries=(
    go_installed("toxiproxy-server", f"{TOXIPROXY_MODULE}@{TOXIPROXY_VERSION}"),))
LB_IMAGE = ImageSpec("lb")
HARNESS_IMAGES = (NODE_IMAGE, REGISTRY_IMAGE, TOXIPROXY_IMAGE, LB_IMAGE)
BUILD_HASH_LABEL = f"{LABEL_PREFIX}.build-hash"


class ImageBuilder:
    """Builds images on the local engine; every build is idempotent."""

    def __init__(self, client: docker.DockerClient, progress: Progress = lambda _: None) -> None:
        self._client = client
        self._progress = progress
        self._base: str | None = None

    def base_image(self) -> str:
        """The Debian base every image builds on: upstream if present, else bootstrapped."""
        if self._base is None:
            self._base = self._find_or_make_base()
        return self._base

    def build(self, spec: ImageSpec) -> str:
        """Build ``spec`` unless an image with the same content hash exists; return its tag."""
        base = self.base_image()
        base_id = self.image_id(base)
        tag = f"chaos-harness/{spec.context}:{spec.content_hash(base_id)}"
        if self._exists(tag):
            return tag
        self._progress(f"building {tag}")
        with tempfile.TemporaryDirectory(prefix="chaos-build-") as tmp:
            context = Path(tmp) / spec.context
            shutil.copytree(DOCKERFILES / spec.context, context)
            for binaries in spec.binaries:
                for name, path in binaries.get(self._progress).items():
                    (context / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, context / name)
            self._build(spec.context, tag, path=str(context), buildargs={"BASE_IMAGE": base, **spec.build_args},
                        labels={f"{LABEL_PREFIX}.image": spec.context})
        return tag

    def build_context(self, context: Path, tag: str, dockerfile: str | None = None,
                      args: dict[str, str] | None = None) -> str:
        """Build a user's context as ``tag`` unless the image there was built from the same inputs.

        ``BASE_IMAGE`` is passed as a build argument, so a Dockerfile that starts
        ``ARG BASE_IMAGE`` / ``FROM ${BASE_IMAGE}`` builds on the local Debian base.
        """
        base = self.base_image()
        args = {"BASE_IMAGE": base, **(args or {})}
        inputs = _tree_hash(context, [self.image_id(base), dockerfile or "", json.dumps(args, sort_keys=True)])
        if self._label(tag, BUILD_HASH_LABEL) == inputs:
            return tag
        self._progress(f"building {tag} from {context}")
        self._build(tag, tag, path=str(context), dockerfile=dockerfile, buildargs=args,
                    labels={BUILD_HASH_LABEL: inputs})
        return tag

    def build_dockerfile(self, dockerfile: str, tag: str) -> str:
        """Build a context-free Dockerfile (only ``FROM``, ``HEALTHCHECK``, ...) as ``tag``, unless built already."""
        inputs = hashlib.sha256(dockerfile.encode()).hexdigest()[:12]
        if self._label(tag, BUILD_HASH_LABEL) == inputs:
            return tag
        self._progress(f"building {tag}")
        self._build(tag, tag, fileobj=io.BytesIO(dockerfile.encode()), labels={BUILD_HASH_LABEL: inputs})
        return tag

    def image_id(self, image: str) -> str:
        """The id of a local image (``ImageNotFound`` when the host's engine lacks it)."""
        return self._client.images.get(image).id

    def exposed_ports(self, image: str) -> set[int]:
        """The ports a local image declares with EXPOSE."""
        exposed = self._client.images.get(image).attrs.get("Config", {}).get("ExposedPorts") or {}
        return {int(port.split("/")[0]) for port in exposed}

    def _build(self, what: str, tag: str, **options) -> None:
        """Build through the streaming API so that each Dockerfile step shows as it starts, and a long step its
        latest output line every STEP_QUIET seconds."""
        log: list[str] = []
        shown = monotonic()
        try:
            for chunk in self._client.api.build(tag=tag, rm=True, forcerm=True, decode=True, **options):
                if "error" in chunk:
                    raise HarnessError(f"building image {tag} failed: {chunk['error']}\n{''.join(log)[-2000:]}")
                line = chunk.get("stream", "")
                log.append(line)
                step = line.startswith("Step ")
                if step or (line.strip() and monotonic() - shown >= STEP_QUIET):
                    indent = "" if step else "  "
                    self._progress(f"  {what} {indent}{textwrap.shorten(line, 100, placeholder=' ...')}")
                    shown = monotonic()
        except APIError as error:
            raise EnvironmentProblem(f"the Docker engine refused to build {tag}: {error}") from error

    def _exists(self, tag: str) -> bool:
        try:
            self._client.images.get(tag)
            return True
        except ImageNotFound:
            return False

    def _label(self, tag: str, label: str) -> str | None:
        """A label of the local image ``tag`` (None when the image or the label is missing)."""
        try:
            return (self._client.images.get(tag).labels or {}).get(label)
        except ImageNotFound:
            return None

    def _find_or_make_base(self) -> str:
        for name in (UPSTREAM_BASE, BOOTSTRAPPED_BASE):
            if self._exists(name):
                return name
        try:
            self._client.images.pull(UPSTREAM_BASE)
            return UPSTREAM_BASE
        except APIError:
            self._progress(f"{UPSTREAM_BASE} cannot be pulled; bootstrapping {BOOTSTRAPPED_BASE}")
        self._bootstrap_base()
        return BOOTSTRAPPED_BASE

    def _bootstrap_base(self) -> None:
        archive = base_archive(self._progress)
        self._progress(f"importing {BOOTSTRAPPED_BASE} from {archive}")
        repository, tag = BOOTSTRAPPED_BASE.split(":")
        self._client.api.import_image(src=str(archive), repository=repository, tag=tag)


def _tree_hash(root: Path, extra: list[str]) -> str:
    """A short hash of every file under ``root`` (names and contents) and ``extra``; Python's byte-code caches
    are left out (pip writes them beside the demo app's sources when it installs the package)."""
    digest = hashlib.sha256(json.dumps(extra).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(root).parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def go_binary(name: str, module: str, progress: Progress) -> Path:
    """``module@version``'s command built with the machine's Go as ``name``: once per user, version and machine."""

    def make(directory: Path) -> None:
        if shutil.which("go") is None:
            raise EnvironmentProblem(f"building {module} needs Go: `apt-get install -y golang-go`")
        progress(f"go install {module}")
        _run(["go", "install", module], {"GOBIN": str(directory), "CGO_ENABLED": "0"})
        (directory / module.split("@")[0].rsplit("/", 1)[-1]).rename(directory / name)

    version = module.rpartition("@")[2]
    return cached(f"go/{name}@{version}-{platform.machine()}", name, make)


def base_archive(progress: Progress) -> Path:
    """A minimal Debian root filesystem as a tar archive: bootstrapped once per user, suite and machine."""

    def make(directory: Path) -> None:
        if shutil.which("debootstrap") is None:
            raise EnvironmentProblem(
                f"{UPSTREAM_BASE} cannot be pulled and debootstrap is missing: "
                "install it with `apt-get install -y debootstrap` (needs root)."
            )
        progress(f"bootstrapping Debian {DEBIAN_SUITE} (once; kept in {directory.parent})")
        with tempfile.TemporaryDirectory(prefix="chaos-base-") as tmp:
            rootfs = Path(tmp) / "rootfs"  # made by debootstrap, so / has its mode (0755), not mkdtemp's 0700
            _run(["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR])
            _run(["tar", "-C", str(rootfs), "-czf", str(directory / BASE_ARCHIVE), "."])

    return cached(f"base/debian-{DEBIAN_SUITE}-minbase-{platform.machine()}", BASE_ARCHIVE, make)


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise EnvironmentProblem(f"`{' '.join(argv)}` failed: {result.stderr.strip()[-1500:]}")
