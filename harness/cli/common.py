"""What every command shares: progress output, the ``--app`` option, profiles checked and prepared, durations."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from harness.app import DEFAULT_PROFILE
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.cluster import Cluster, ClusterConfig

console = Console(stderr=True)
RESULT_WIDTH = 1000  # columns of a result table printed into a log or a pipe: wide enough not to cut a value
DEFAULT_REPORTS = Path("reports")


class Output:
    """Progress on stderr: a line per step, and one live status line that is replaced as it changes; results
    (summary tables, comparisons) on stdout.

    On a terminal the live line is a spinner; in a log (CI) it is printed at
    most every ``LOG_EVERY`` seconds. ``--quiet`` silences all three.
    """

    LOG_EVERY = 10.0

    def __init__(self) -> None:
        self.quiet = False
        self._status = None
        self._logged_at = 0.0

    def step(self, message: str) -> None:
        if not self.quiet:
            console.print(f"[dim]·[/] {message}", highlight=False)

    def live(self, message: str) -> None:
        if self.quiet:
            return
        if not console.is_terminal:
            if time.monotonic() - self._logged_at >= self.LOG_EVERY:
                self._logged_at = time.monotonic()
                console.print(f"[dim]  {message}[/]", highlight=False)
            return
        if self._status is None:
            self._status = console.status(message)
            self._status.start()
        self._status.update(message)

    def done(self) -> None:
        """End the live line (before a summary is printed)."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def show(self, renderable, stdout: bool = True) -> None:
        """A result on stdout (wide in a log, not cut at 80 columns); on stderr with the progress when stdout
        carries something else (``--json``)."""
        self.done()
        if self.quiet:
            return
        if not stdout:
            console.print(renderable)
            return
        out = Console()
        (out if out.is_terminal else Console(width=RESULT_WIDTH)).print(renderable)


ui = Output()
progress = ui.step


class ScenarioParam(click.ParamType):
    """A scenario file, or the name of a scenario the harness ships (when no such file exists)."""

    name = "scenario"

    def convert(self, value, param, ctx) -> Path:
        from harness.shipped import scenario_argument

        try:
            return value if isinstance(value, Path) else scenario_argument(value)
        except UsageError as error:
            self.fail(str(error), param, ctx)


class AppParam(click.ParamType):
    """An app profile file, or ``demo``: the demo app the harness ships (when no such file exists)."""

    name = "profile"

    def convert(self, value, param, ctx) -> Path:
        from harness.shipped import app_argument

        return value if isinstance(value, Path) else app_argument(value)


class ReportsParam(click.ParamType):
    """A directory the command writes runs into: it may not exist yet, but where it would be made must be a
    directory this user can write (refused before anything starts, not when the first run begins)."""

    name = "directory"

    def convert(self, value, param, ctx) -> Path:
        path = Path(value)
        try:
            existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
        except OSError as error:  # a name too long
            self.fail(f"{str(value)[:200]!r}: {error.strerror}", param, ctx)
        if not existing.is_dir():
            self.fail(f"{str(value)!r}: {existing} is not a directory", param, ctx)
        if not os.access(existing, os.W_OK | os.X_OK):
            self.fail(f"{str(value)!r}: {existing} is not writable", param, ctx)
        return path


SCENARIO, APP, REPORTS = ScenarioParam(), AppParam(), ReportsParam()
DEMO_SHOWN = "demo, the shipped demo app"


def app_option(function):
    """``--app``: the app profile whose stack a command deploys."""
    return click.option("--app", "app_path", default=DEFAULT_PROFILE, show_default=DEMO_SHOWN, type=APP,
                        help="App profile: the stack to upgrade (a file, or demo).")(function)


def engines_option(function):
    """``--engines``: the engines a command runs on, each on its own cluster."""
    return click.option("--engines", metavar="ENGINE[,ENGINE]",
                        help="Comma-separated engines (swarm, kubernetes) to run on, each on its own cluster named "
                             "CLUSTER-ENGINE (chaos-swarm, chaos-kubernetes) when there are two; default: the "
                             "engine of the cluster that is up, else --engine."
                        )(function)


def engines_of(config: ClusterConfig, engines: str | None) -> list[str]:
    """The engines of ``--engines``; without it, the engine of the cluster ``config`` names when it is up (an
    ``--engine`` given for another is refused), else ``--engine``'s."""
    from harness.cluster.config import ClusterState
    from harness.matrix import parse_engines

    if engines is not None:
        return parse_engines(engines)
    state = ClusterState.load(config.state_dir)
    if state and config.engine_given and config.engine != state.engine:
        raise click.UsageError(f"--engine {config.engine}: cluster {config.name!r} is up as a {state.engine} cluster, "
                               "and --engine chooses the engine only when a cluster is made; take it down first, or "
                               "give another --cluster")
    return [state.engine if state else config.engine]


def clusters_of(config: ClusterConfig, engines: list[str]) -> dict[str, Cluster]:
    """Each engine's cluster (``cluster.config.per_engine``), named in the progress when there are several."""
    from harness.cluster import Cluster
    from harness.cluster.config import per_engine

    clusters = {engine: Cluster(each, progress) for engine, each in per_engine(config, engines).items()}
    if len(clusters) > 1:
        progress("clusters: " + ", ".join(f"{c.config.name} ({engine})" for engine, c in clusters.items()))
    return clusters


def checked_profile(path: Path, scenarios, engines: list[str]):
    """The profile validated against the scenarios' releases, the notes shown of the forms the ``engines`` deploy
    (a compose file's say nothing on Kubernetes when the profile gives its objects); nothing touched."""
    from harness.app import load_profile
    from harness.engine import FORMS

    profile = load_profile(path)
    check_releases(profile, scenarios)
    deployed = {next((f for f in FORMS[engine] if f in profile.forms), None) for engine in engines}
    for warning in profile.warnings_of(deployed):
        progress(f"[yellow]note[/]: {warning}")
    return profile


def check_forms(profiles, engines: list[str]) -> None:
    """Every profile gives the app in a form each engine deploys; ProfileError naming the profile and engine if not."""
    from harness.engine import FORMS
    from harness.stack.from_spec import form_for

    for profile in profiles:
        for engine in engines:
            form_for(profile, FORMS[engine], engine)


def check_releases(profile, scenarios) -> None:
    """Every release the scenarios ask for (``from``/``to``) is one the profile has; ProfileError naming it if not."""
    for name in {name for s in scenarios for name in s.stack.releases}:
        profile.release_name(name)


def prepared(profile, scenarios, cluster: Cluster):
    """The profile's images found or built on this host (before the cluster starts)."""
    from harness.app import App

    return App.prepare(profile, cluster.builder, [name for s in scenarios for name in s.stack.releases])


def parse_durations(texts: tuple[str, ...], option: str = "--duration/--timeout") -> tuple[float, ...]:
    """Durations from the command line (``100ms``, ``2s``); a bad one is a usage error naming it."""
    from harness.models import parse_duration

    durations = []
    for text in texts:
        try:
            durations.append(parse_duration(text))
        except ValueError as error:
            raise click.BadParameter(f"{text!r}: {error}", param_hint=option) from error
    return tuple(durations)


def show_comparison(rows, as_json: bool, markdown: bool = False) -> None:
    """Comparison rows on stdout: as JSON, as Markdown, or as a table (not with ``--quiet``)."""
    from harness.compare import to_document
    from harness.report.markdown import comparison_markdown
    from harness.report.terminal import comparison_table

    if as_json:
        click.echo(json.dumps(to_document(rows), indent=2))
    elif markdown:
        click.echo(comparison_markdown(rows))
    else:
        ui.show(comparison_table(rows))
