"""``chaos-harness init``: a ``chaos/`` folder in the user's repository, from their compose file or Kubernetes
objects.

    chaos/app.yaml              the app profile, as ``app init`` writes it (TODOs to fill in)
    chaos/scenarios/*.yaml      copies of the shipped scenarios, to edit (``pytest chaos/scenarios`` collects them)
    chaos/README.md             three lines: what the folder is and the next commands
    chaos/chaos-harness.yml     a GitHub Actions workflow, to be copied into ``.github/workflows/``

Every file is new: when one of them exists nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from string import Template

from harness import __version__
from harness.app.init import starting_profile
from harness.errors import UsageError
from harness.files import create_text
from harness.shipped import scenario_names, shipped_scenario

__all__ = ["COMPOSE_NAMES", "PROFILE", "WORKFLOW", "find_compose", "project_files", "write_new"]

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")  # Compose's order
PROFILE = "app.yaml"
WORKFLOW = "chaos-harness.yml"
FIRST_SCENARIOS = ("clean-upgrade", "halted-node")  # what the workflow runs: a baseline and one failure


def find_compose(directory: Path) -> Path:
    """The compose file Docker Compose would read in ``directory``; ``UsageError`` naming the names looked for."""
    for name in COMPOSE_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise UsageError(f"no compose file in {directory} ({', '.join(COMPOSE_NAMES)}); give its path: "
                     "`chaos-harness init path/to/compose.yml`")


def project_files(compose: Path, directory: Path) -> dict[Path, str]:
    """Every file ``init`` writes into ``directory`` for ``compose`` (a compose file, or a directory of Kubernetes
    objects), with its text (read and validated as ``app init`` does; ``ProfileError`` when it is unusable)."""
    profile = directory / PROFILE
    files = {profile: starting_profile(compose, profile)}
    for name in scenario_names():
        files[directory / "scenarios" / f"{name}.yaml"] = shipped_scenario(name).read_text()
    shown = Path(os.path.relpath(directory.resolve()))  # as the user's repository names it, in what is written
    files[directory / "README.md"] = _readme(shown)
    kubernetes = compose.is_dir() or compose.suffix == ".tgz"  # Kubernetes objects only: Swarm cannot deploy them
    files[directory / WORKFLOW] = Template(_WORKFLOW).substitute(
        version=__version__, dir=shown.as_posix(), engine="--engine kubernetes " if kubernetes else "",
        scenarios=" ".join(f"{shown.as_posix()}/scenarios/{name}.yaml" for name in FIRST_SCENARIOS))
    return files


def write_new(files: dict[Path, str]) -> None:
    """Write every file, each new; ``UsageError`` naming every one that exists, and then nothing is written."""
    if existing := [str(path) for path in files if os.path.lexists(path)]:
        raise UsageError(f"{', '.join(existing)} {'exists' if len(existing) == 1 else 'exist'}; nothing was written "
                         "(a file is never overwritten: move it away, or write into another directory)")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        create_text(path, text)


def _readme(directory: Path) -> str:
    where = directory.as_posix()
    return (f"Chaos tests of this repository's stack with chaos-harness: `{PROFILE}` is the app profile, "
            f"`scenarios/` what happens to it during an upgrade.\n"
            f"Fill in the TODOs of `{PROFILE}`, check it with `chaos-harness app check {where}/{PROFILE}`, then run "
            f"`chaos-harness run {where}/scenarios/halted-node.yaml --app {where}/{PROFILE}`.\n"
            f"`{WORKFLOW}` runs them in GitHub Actions: copy it into `.github/workflows/`; "
            "`chaos-harness --help` lists every command.\n")


_WORKFLOW = """\
# Chaos tests of this repository's stack, written by `chaos-harness init`.
# Copy this file into .github/workflows/ to run them on every push and nightly.
# It needs a Linux runner that may use sudo (GitHub's ubuntu-latest may):
# `chaos-harness setup` installs Docker and what the faults need there.
name: chaos

on:
  push:
  schedule:
    - cron: "0 3 * * *"
  workflow_dispatch:

jobs:
  chaos:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      # Go binaries and the Debian base image's root filesystem, made once and kept.
      - uses: actions/cache@v4
        with:
          path: ~/.cache/chaos-harness
          key: chaos-harness-$${{ runner.os }}-$${{ runner.arch }}-$version
      - name: Install chaos-harness
        run: pip install "chaos-harness==$version"
      - name: Set up this runner
        run: chaos-harness ${engine}setup
      - name: Run the scenarios
        run: chaos-harness ${engine}run $scenarios --app $dir/app.yaml --reports reports
      - name: Summary
        if: always()
        run: cat reports/*/summary.md >> "$$GITHUB_STEP_SUMMARY" || true
      - name: Keep the run directories
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: chaos-reports
          path: reports/
"""
