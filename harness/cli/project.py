"""The user's repository: ``init`` writes a ``chaos/`` folder into it; ``scenarios`` lists, shows and copies the
scenarios the harness ships."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.common import progress, ui


@click.command()
@click.argument("compose_file", metavar="[COMPOSE|KUBERNETES_DIR]", required=False, type=click.Path(path_type=Path))
@click.option("--dir", "directory", default=Path("chaos"), show_default=True, type=click.Path(path_type=Path),
              help="Where to write the app profile, the scenarios, a README and a CI workflow.")
def init(compose_file: Path | None, directory: Path) -> None:
    """Start chaos tests in your repository: a folder with an app profile for COMPOSE (default: the compose file
    here, as Docker Compose finds it) or for a Helm chart, kustomization or manifests directory, copies of the
    shipped scenarios, a README and a GitHub Actions workflow.

    Never overwrites a file: when one exists, it is named (exit 2) and nothing is written.
    """
    from harness.scaffold import PROFILE, WORKFLOW, find_compose, project_files, write_new

    compose = compose_file or find_compose(Path("."))
    files = project_files(compose, directory)
    write_new(files)
    progress(f"wrote {len(files)} files into {directory}/ for {compose}")
    progress(f"next: fill in the TODOs of {directory / PROFILE}, then `chaos-harness app check {directory / PROFILE}`"
             f"; {directory / WORKFLOW} goes into .github/workflows/")


@click.group()
def scenarios() -> None:
    """The scenarios shipped with the harness (any command that takes a scenario file takes their names)."""


@scenarios.command("list")
def scenarios_list() -> None:
    """Each shipped scenario's name and the first sentence of its description."""
    from harness.scenario import load_scenario
    from harness.shipped import scenario_names, shipped_scenario

    ui.done()
    for name in scenario_names():
        description = " ".join(load_scenario(shipped_scenario(name)).description.split())
        click.echo(f"{name:<24} {description.split('. ')[0].rstrip('.')}")


@scenarios.command("show")
@click.argument("name")
def scenarios_show(name: str) -> None:
    """Print the shipped scenario NAME (YAML)."""
    from harness.shipped import shipped_scenario

    click.echo(shipped_scenario(name).read_text(), nl=False)


@scenarios.command("copy")
@click.argument("names", metavar="NAME...", nargs=-1, required=True)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
def scenarios_copy(names: tuple[str, ...], directory: Path) -> None:
    """Copy shipped scenarios into DIR (made if missing) as NAME.yaml, to edit; never over a file that exists
    (exit 2, nothing copied)."""
    from harness.scaffold import write_new
    from harness.shipped import shipped_scenario

    files = {directory / f"{name}.yaml": shipped_scenario(name).read_text() for name in names}
    write_new(files)
    for path in files:
        progress(f"wrote {path}")


COMMANDS = (init, scenarios)
