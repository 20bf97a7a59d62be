"""The package as users install it: its version and the data it ships."""

from __future__ import annotations

import zipfile
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

import harness
from harness.cli import main
from harness.shipped import scenario_names
from tests.wheel import build_wheel


def test_version_is_the_package_metadatas():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"chaos-harness {version('chaos-harness')}\n"
    assert harness.__version__ == version("chaos-harness")


def test_the_wheel_carries_every_file_a_run_reads(tmp_path):
    """Built as a user's ``pip wheel .`` builds it: every non-Python file of the package is in it, and so is
    every shipped scenario, the demo app and the Vagrantfile."""
    package = Path(harness.__file__).parent
    with zipfile.ZipFile(build_wheel(tmp_path / "dist")) as wheel:
        names = set(wheel.namelist())
    data = {f"harness/{path.relative_to(package).as_posix()}" for path in package.rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts}
    assert data and not data - names, sorted(data - names)
    shipped = {"harness/shipped/Vagrantfile", "harness/shipped/apps/demo.yaml", "harness/shipped/apps/demo/compose.yml",
               "harness/shipped/apps/demo/web/app.py", "harness/dockerfiles/toxiproxy/Dockerfile",
               "harness/report/templates/report.html.j2", "harness/stack/haproxy.cfg", "harness/load/locustfile.py",
               *(f"harness/shipped/scenarios/{name}.yaml" for name in scenario_names())}
    assert not shipped - names, sorted(shipped - names)
    assert not any(name.startswith(("tests/", "docs/", "examples/")) for name in names)
