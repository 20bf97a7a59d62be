"""Find fault plugins through the ``harness.faults`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from pydantic import ValidationError

from harness.errors import EnvironmentProblem
from harness.faults.base import Fault

GROUP = "harness.faults"


@cache
def available() -> dict[str, type[Fault]]:
    """Every installed fault plugin by name."""
    plugins: dict[str, type[Fault]] = {}
    for entry in entry_points(group=GROUP):
        try:
            plugin = entry.load()
        except Exception as error:  # a broken third-party plugin must name itself
            raise EnvironmentProblem(f"fault plugin {entry.name!r} ({entry.value}) failed to load: {error}") from error
        if plugin.name != entry.name:
            raise EnvironmentProblem(
                f"fault plugin {entry.value} is registered as {entry.name!r} but calls itself {plugin.name!r}"
            )
        plugins[entry.name] = plugin
    return plugins


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
