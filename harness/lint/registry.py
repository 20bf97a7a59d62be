"""Find lint rules through the ``harness.lint_rules`` entry-point group, as fault plugins are found."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from harness.errors import EnvironmentProblem
from harness.lint.model import Rule

GROUP = "harness.lint_rules"


@cache
def available() -> dict[str, type[Rule]]:
    """Every installed rule by name."""
    rules: dict[str, type[Rule]] = {}
    for entry in entry_points(group=GROUP):
        try:
            rule = entry.load()
        except Exception as error:  # a broken third-party rule must name itself
            raise EnvironmentProblem(f"lint rule {entry.name!r} ({entry.value}) failed to load: {error}") from error
        if rule.name != entry.name:
            raise EnvironmentProblem(f"lint rule {entry.value} is registered as {entry.name!r} but calls itself "
                                     f"{rule.name!r}")
        rules[entry.name] = rule
    return rules
