"""The images a Kubernetes cluster of the harness is made of, all built here from source."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from harness.build import DOCKERFILES, Binaries, ImageSpec, Progress
from harness.engine.kubernetes.binaries import COMPONENTS, Component, binaries
from harness.errors import EnvironmentProblem

__all__ = ["COREDNS_IMAGE", "KUBERNETES_IMAGES", "KUBE_NODE_IMAGE", "PAUSE_IMAGE"]


def _component(component: Component, directory: str = "") -> Binaries:
    prefix = f"{directory}/" if directory else ""
    return Binaries(component.entry, lambda progress: {
        f"{prefix}{command}": path for command, path in binaries(component, progress).items()})


def _pause(progress: Progress) -> dict[str, Path]:
    """The pause program (Go, in the image's context) built static; it takes a second, so it is not cached."""
    out = Path(tempfile.mkdtemp(prefix="chaos-pause-")) / "pause"
    progress("building the pod sandbox's pause program")
    result = subprocess.run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."],
                            cwd=DOCKERFILES / "pause", capture_output=True, text=True,
                            env={**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"})
    if result.returncode != 0:
        raise EnvironmentProblem(f"building the pause program failed: {result.stderr.strip()[-1500:]}")
    return {"pause": out}


_BY_NAME = {component.name: component for component in COMPONENTS}
KUBE_NODE_IMAGE = ImageSpec("kube-node", binaries=tuple(
    _component(_BY_NAME[name], "bin") for name in ("kubernetes", "etcd", "containerd")))
PAUSE_IMAGE = ImageSpec("pause", binaries=(Binaries("pause=local source", _pause),))
COREDNS_IMAGE = ImageSpec("coredns", binaries=(_component(_BY_NAME["coredns"]),))
KUBERNETES_IMAGES = (KUBE_NODE_IMAGE, PAUSE_IMAGE, COREDNS_IMAGE)
