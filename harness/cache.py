"""The per-user cache: files that are slow to make and the same for every project, made once and reused.

It lives in ``$XDG_CACHE_HOME/chaos-harness`` (``~/.cache/chaos-harness`` when the variable is unset or not an
absolute path, as the XDG spec says). Every entry is a directory named by what it is and its version (for example
``go/toxiproxy-server@v2.5.0-x86_64``), so a new version is a new entry and an old one is never reused for it.
An entry is made in a temporary directory beside it and renamed into place, so a make that fails or is
interrupted leaves nothing, and two makes at once (two clones, two CI jobs) both end with a whole entry.
Removing the directory is always safe: what is missing is made again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["cache_root", "cached"]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/chaos-harness``, else ``~/.cache/chaos-harness``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "chaos-harness"


def cached(entry: str, name: str, make: Callable[[Path], None]) -> Path:
    """The file ``name`` of the cache entry ``entry`` (``kind/what@version``); when it is missing, ``make(dir)``
    writes it into an empty directory first, which then becomes the entry."""
    target = cache_root() / entry
    if (target / name).is_file():
        return target / name
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        make(scratch)
        if not (scratch / name).is_file():
            raise FileNotFoundError(f"making the cache entry {entry} wrote no {name}")
        shutil.rmtree(target, ignore_errors=True)  # a broken entry (its file missing) is made again
        try:
            scratch.rename(target)
        except OSError:  # another process put a whole entry there first
            if not (target / name).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / name
