"""What the harness ships for its users besides code, as package data.

    apps/demo.yaml, apps/demo/   the demo app: its profile (the default ``--app``) and its compose stack
    scenarios/*.yaml             scenarios that name no image, service or path: each runs on any stack
    Vagrantfile                  the cluster's nodes (containers or VMs), configured by ``CHAOS_*`` variables

A command that takes a scenario file also takes a shipped scenario's name (``chaos-harness run halted-node``),
and one that takes an app profile the name ``demo``; ``chaos-harness scenarios`` lists, shows and copies the
scenarios.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UsageError
from harness.resources import package_path

__all__ = ["APPS", "DEMO_PROFILE", "SCENARIOS", "VAGRANTFILE", "app_argument", "scenario_argument", "scenario_names",
           "shipped_scenario", "shown"]

APPS = package_path(__name__, "apps")
DEMO_PROFILE = APPS / "demo.yaml"
SCENARIOS = package_path(__name__, "scenarios")
VAGRANTFILE = package_path(__name__, "Vagrantfile")


def scenario_names() -> list[str]:
    """The shipped scenarios' names (their file names without ``.yaml``), sorted."""
    return sorted(path.stem for path in SCENARIOS.glob("*.yaml"))


def shipped_scenario(name: str) -> Path:
    """The file of the shipped scenario ``name``; ``UsageError`` listing every name when there is none."""
    if name not in scenario_names():
        raise UsageError(f"{name!r} is no shipped scenario; the shipped ones: {', '.join(scenario_names())}")
    return SCENARIOS / f"{name}.yaml"


def scenario_argument(text: str) -> Path:
    """A scenario as a command line gives it: the file ``text`` when there is one, else the shipped scenario of
    that name; ``UsageError`` saying both were looked for, and listing the shipped names, when it is neither."""
    path = Path(text)
    if os.path.lexists(path):  # a file that is there is read, and refused by the loader if unusable
        return path
    if text in scenario_names():
        return SCENARIOS / f"{text}.yaml"
    raise UsageError(f"{text}: no such file, and no shipped scenario of that name; the shipped ones: "
                     f"{', '.join(scenario_names())}")


def app_argument(text: str) -> Path:
    """An app profile as a command line gives it: the file ``text`` when there is one, else the shipped app of
    that name (``demo``), else ``text`` as it is (for the profile loader to say what is missing)."""
    path = Path(text)
    if os.path.lexists(path) or text not in {shipped.stem for shipped in APPS.glob("*.yaml")}:
        return path
    return APPS / f"{text}.yaml"


def shown(path: Path) -> str:
    """``path`` as a message names it: a shipped scenario or app by its name, any other file by its path."""
    if path.parent in (SCENARIOS, APPS) and path.suffix == ".yaml":
        return path.stem
    return str(path)
