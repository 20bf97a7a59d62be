"""Files the harness ships beside its code (Dockerfiles, templates, the demo app, scenarios, the Vagrantfile).

They are package data, found through ``importlib.resources`` from the package that holds them, never by a path
computed from a source file: the same code works from a wheel, an sdist and an editable install.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harness.errors import EnvironmentProblem

__all__ = ["package_path"]


def package_path(package: str, *parts: str) -> Path:
    """The file or directory ``parts`` of ``package`` on disk (Docker, Vagrant and Locust need real paths; pip
    installs packages as files, so they are)."""
    where = files(package).joinpath(*parts)
    if not isinstance(where, Path):
        raise EnvironmentProblem(f"{package} is not installed as files ({where!r}); install chaos-harness with pip "
                                 "or pipx")
    return where
