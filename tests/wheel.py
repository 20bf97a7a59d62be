"""Build this checkout's wheel as a user's ``pip wheel .`` would, without writing into the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(dist: Path) -> Path:
    """The wheel of the files git tracks or would track here (as they are on disk), built in a copy in an
    isolated build environment (setuptools from the package index); its path in ``dist``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    source = dist.parent / "source"
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a tracked file deleted on disk is left out, as a build would
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--disable-pip-version-check",
                            "-w", str(dist), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("chaos_harness-*.whl")
    return wheel
