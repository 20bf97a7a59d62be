"""Find fault plugins through the ``harness.faults`` entry-point group."""

from __future__ import annotations

from functools import cache

from pydantic import ValidationError

from harness.faults.base import Fault
from harness.plugins import load_plugins

GROUP = "harness.faults"


@cache
def available() -> dict[str, type[Fault]]:
    """Every installed fault plugin by name."""
    return load_plugins(GROUP, "fault plugin")


def create(kind: str, params: dict, target: str) -> Fault:
    """Build a fault from its kind, parameters and resolved target."""
    return available()[kind](params, target)


def rebuild(kind: str, params: dict, target: str) -> Fault:
    """A fault from its heal-ledger record, to heal it: parameters that no longer validate (recorded by an
    older harness, or never fit to inject) are taken as they are, so that its heal can still run.
    KeyError when no plugin of ``kind`` is installed."""
    plugin = available()[kind]
    try:
        return plugin(params, target)
    except ValidationError:
        return plugin(plugin.Params.model_construct(**params), target)
