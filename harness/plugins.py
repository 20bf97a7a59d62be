"""Plugins found through an entry-point group: fault plugins (``harness.faults``) and lint rules
(``harness.lint_rules``) alike, each registered under the name it gives itself."""

from __future__ import annotations

from importlib.metadata import entry_points

from harness.errors import EnvironmentProblem


def load_plugins(group: str, what: str) -> dict[str, type]:
    """Every plugin of ``group`` by name; EnvironmentProblem naming a plugin (``what``: "fault plugin") that fails
    to load or is registered under another name than its own."""
    plugins: dict[str, type] = {}
    for entry in entry_points(group=group):
        try:
            plugin = entry.load()
        except Exception as error:  # a broken third-party plugin must name itself
            raise EnvironmentProblem(f"{what} {entry.name!r} ({entry.value}) failed to load: {error}") from error
        if plugin.name != entry.name:
            raise EnvironmentProblem(f"{what} {entry.value} is registered as {entry.name!r} but calls itself "
                                     f"{plugin.name!r}")
        plugins[entry.name] = plugin
    return plugins
