"""Imports go one way: the comparison and report.json reading below the reports, the stack below the runner."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HARNESS = Path(__file__).parents[2] / "harness"
# module (or package) -> the harness modules it must never import, at the top or inside a function
BELOW = {
    "compare.py": ("harness.report", "harness.matrix", "harness.runner", "harness.cli", "harness.sweep"),
    "reportfile.py": ("harness.compare", "harness.report", "harness.analysis", "harness.runner", "harness.cli"),
    "report": ("harness.matrix", "harness.runner", "harness.cli", "harness.audit"),
    "stack": ("harness.runner", "harness.matrix", "harness.cli", "harness.audit", "harness.report"),
    "audit.py": ("harness.runner", "harness.matrix", "harness.cli"),
    "matrix.py": ("harness.cli",),
}


def imported(path: Path) -> set[str]:
    """Every harness module ``path`` imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("harness")}


@pytest.mark.parametrize("where", sorted(BELOW))
def test_nothing_imports_upward(where):
    files = sorted((HARNESS / where).rglob("*.py")) if (HARNESS / where).is_dir() else [HARNESS / where]
    upward = {f"{path.relative_to(HARNESS)} imports {name}" for path in files for name in imported(path)
              if any(name == above or name.startswith(above + ".") for above in BELOW[where])}
    assert not upward, sorted(upward)
