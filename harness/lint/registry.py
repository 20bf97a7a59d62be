"""Find lint rules through the ``harness.lint_rules`` entry-point group, as fault plugins are found."""

from __future__ import annotations

from functools import cache

from harness.lint.model import Rule
from harness.plugins import load_plugins

GROUP = "harness.lint_rules"


@cache
def available() -> dict[str, type[Rule]]:
    """Every installed rule by name."""
    return load_plugins(GROUP, "lint rule")
