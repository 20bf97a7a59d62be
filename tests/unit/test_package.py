"""The package as users install it: its version and the data it ships."""

from __future__ import annotations

from importlib.metadata import version

from click.testing import CliRunner

import harness
from harness.cli import main


def test_version_is_the_package_metadatas():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"chaos-harness {version('chaos-harness')}\n"
    assert harness.__version__ == version("chaos-harness")
