"""An app's revision: a short digest of the profile and the files it names, which a run's report carries so that
runs of different app files are never folded into one comparison row.

The profile file counts, and the compose file, Kubernetes manifests, kustomization, chart, values files and
locustfile it names (every regular file under a directory, by its path relative to the profile). A build
context's sources do not count: the release's image tag names what was built. Links are not followed, and what
is not a regular file (a FIFO, a device) counts by its name only, so nothing blocks.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

DIGITS = 12  # hexadecimal digits of the digest a report shows
_CHUNK = 1 << 20


def revision(profile: Path, named: Iterable[str]) -> str:
    """The digest of ``profile`` and the paths it names (relative to its directory)."""
    base = profile.parent
    digest = hashlib.sha256()
    for path in dict.fromkeys([profile, *(base / name for name in named)]):
        for file in _files(path):
            digest.update(os.path.relpath(file, base).encode(errors="surrogateescape") + b"\0")
            _add_content(digest, file)
            digest.update(b"\0")
    return digest.hexdigest()[:DIGITS]


def _files(path: Path) -> Iterator[Path]:
    """``path`` itself, or every file under it in a stable order (links to directories not followed)."""
    if not path.is_dir() or path.is_symlink():
        yield path
        return
    for root, directories, files in os.walk(path):
        directories.sort()
        yield from (Path(root) / name for name in sorted(files))


def _add_content(digest, file: Path) -> None:
    try:
        if not stat.S_ISREG(file.lstat().st_mode):
            return
        with file.open("rb") as content:
            while chunk := content.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        digest.update(b"unreadable")
