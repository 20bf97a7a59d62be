"""Kubernetes and its parts built from the Go module proxy at pinned versions, once per user and machine.

Kubernetes, etcd and containerd cannot be ``go install``ed: their ``go.mod`` replaces sibling modules with paths
inside their own repository. Each is built from a scratch module of ours that requires it and replaces each of
those siblings with the same module at the matching published version (Kubernetes' staging modules are
published as ``v0.<minor>.<patch>``). The binaries land in one cache entry per component and version
(``harness.cache``), so every project, clone and cluster reuses them; a cold build of everything takes about ten
minutes on two cores, a relink after Go's build cache is warm about thirty seconds.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.cache import cache_root, cached
from harness.errors import EnvironmentProblem

__all__ = ["COMPONENTS", "Component", "KUBERNETES_VERSION", "binaries", "build_all", "missing"]

Progress = Callable[[str], None]
KUBERNETES_VERSION = "v1.37.2"
HELM_VERSION = "v4.3.2"  # renders an app profile's chart (``helm template``)
BUILD_TIMEOUT = 3600.0  # seconds for one component's build (a cold Kubernetes build is ~10 minutes on 2 cores)
_LOCAL_REPLACE = re.compile(r"^\s*(?:replace\s+)?(\S+)\s+=>\s+\.\.?/\S+\s*$", re.MULTILINE)


def _version_flags(version: str) -> list[str]:
    """``-X`` flags that make Kubernetes' binaries name their version instead of ``v0.0.0-master``."""
    major, minor = version.lstrip("v").split(".")[:2]
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean",
              "buildDate": "1970-01-01T00:00:00Z"}
    return [f"-X {package}.{name}={value}" for package in ("k8s.io/component-base/version",
                                                             "k8s.io/client-go/pkg/version")
            for name, value in values.items()]


@dataclass(frozen=True)
class Component:
    """One upstream module and the commands built from it (output name -> package path)."""

    name: str
    module: str
    version: str
    commands: dict[str, str]
    sibling_version: str = ""  # the version the module's locally replaced siblings are pinned to ("" = its own)
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def entry(self) -> str:
        return f"go/{self.name}@{self.version}-{platform.machine()}"

    def path(self) -> Path:
        """The cache entry's directory (its binaries exist once ``binaries`` made them)."""
        return cache_root() / self.entry


COMPONENTS = (
    Component("kubernetes", "k8s.io/kubernetes", KUBERNETES_VERSION, {
        command: f"k8s.io/kubernetes/cmd/{command}"
        for command in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
                        "kubectl")}, sibling_version="v0" + KUBERNETES_VERSION[2:],
        ldflags=tuple(_version_flags(KUBERNETES_VERSION))),
    Component("etcd", "go.etcd.io/etcd/server/v3", "v3.7.3", {"etcd": "go.etcd.io/etcd/server/v3"}),
    Component("containerd", "github.com/containerd/containerd/v2", "v2.4.2", {
        "containerd": "github.com/containerd/containerd/v2/cmd/containerd",
        "containerd-shim-runc-v2": "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
        "ctr": "github.com/containerd/containerd/v2/cmd/ctr"}, tags=("no_btrfs", "no_devmapper", "no_zfs")),
    Component("coredns", "github.com/coredns/coredns", "v1.15.0", {"coredns": "github.com/coredns/coredns"}),
    Component("helm", "helm.sh/helm/v4", HELM_VERSION, {"helm": "helm.sh/helm/v4/cmd/helm"},
              ldflags=(f"-X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",)),
)


def missing() -> list[Component]:
    """The components not in the cache yet."""
    return [c for c in COMPONENTS if not all((c.path() / command).is_file() for command in c.commands)]


def build_all(progress: Progress = lambda _: None) -> dict[str, Path]:
    """Every component's binaries (built where missing): command name -> path."""
    found: dict[str, Path] = {}
    for component in COMPONENTS:
        found.update(binaries(component, progress))
    return found


def binaries(component: Component, progress: Progress = lambda _: None) -> dict[str, Path]:
    """``component``'s commands, built into the cache unless they are there: command name -> path."""

    def make(directory: Path) -> None:
        started = time.monotonic()
        progress(f"building {component.name} {component.version} from the Go module proxy "
                 f"({', '.join(component.commands)}): once per user, minutes when Go's caches are cold")
        _build(component, directory)
        progress(f"built {component.name} {component.version} in {time.monotonic() - started:.0f} s")

    last = list(component.commands)[-1]
    directory = cached(component.entry, last, make).parent
    absent = [command for command in component.commands if not (directory / command).is_file()]
    if absent:
        raise EnvironmentProblem(f"the cache entry {directory} lacks {', '.join(absent)}: remove it to build again")
    return {command: directory / command for command in component.commands}


def _build(component: Component, out: Path) -> None:
    if shutil.which("go") is None:
        raise EnvironmentProblem(f"building {component.name} needs Go: `apt-get install -y golang-go`")
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", **component.env}
    with tempfile.TemporaryDirectory(prefix=f"chaos-build-{component.name}-") as scratch:
        work = Path(scratch)
        upstream_mod = _go(["go", "mod", "download", "-json", f"{component.module}@{component.version}"], work, env)
        siblings = _LOCAL_REPLACE.findall(Path(json.loads(upstream_mod)["GoMod"]).read_text())
        pinned = component.sibling_version or component.version
        replaces = "".join(f"replace {module} => {module} {pinned}\n" for module in siblings)
        (work / "go.mod").write_text(f"module chaos-harness.invalid/build\n\ngo 1.21\n\n"
                                     f"require {component.module} {component.version}\n\n{replaces}")
        packages = list(component.commands.values())
        _go(["go", "get", *[f"{package}@{component.version}" if package == component.module else package
                            for package in packages]], work, env)
        flags = ["-trimpath", "-ldflags", " ".join(["-s", "-w", *component.ldflags])]
        if component.tags:
            flags += ["-tags", ",".join(component.tags)]
        for command, package in component.commands.items():
            _go(["go", "build", *flags, "-o", str(out / command), package], work, env)


def _go(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    try:
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                                env={**os.environ, **env})
    except subprocess.TimeoutExpired as error:
        raise EnvironmentProblem(f"`{' '.join(argv)}` did not finish in {BUILD_TIMEOUT:.0f} s") from error
    if result.returncode != 0:
        raise EnvironmentProblem(f"`{' '.join(argv)}` failed: {result.stderr.strip()[-2000:]}")
    return result.stdout
