"""``chaos-harness lint``: the upgrade pitfalls of the user's stack, read from its files, and with ``--prove``
shown by runs on the cluster."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from harness.cli.common import (APP, DEFAULT_REPORTS, REPORTS, checked_profile, engines_of, parse_durations, prepared,
                                 progress, ui)
from harness.cluster import Cluster, ClusterConfig
from harness.engine import FORMS

FORMATS = ("text", "markdown", "json", "sarif")
FAIL_ON = ("error", "warning", "note", "never")


@click.command()
@click.argument("profile", type=APP)
@click.option("--engine", "engines", multiple=True, type=click.Choice(tuple(FORMS)),
              help="Lint what this engine would deploy (repeat for both; default: every engine the profile has a "
                   "form for).")
@click.option("--rule", "rules", multiple=True, metavar="RULE",
              help="Only this rule (repeat for several): one of the lint rules reference's names.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the findings to this file (default: standard output).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a finding this severe or more is found.")
@click.option("--prove", is_flag=True, help="Run each finding's proof scenario (and its fixed variant) on the "
                                            "cluster's engine, and show what clients saw beside the prediction.")
@click.option("--phase", "phases", multiple=True, metavar="NAME=DURATION",
              help="With --prove: this length for a phase of every proof run (warmup, observe, verify_window, or "
                   "upgrade: the longest the upgrade may take; repeat for several), such as warmup=5s for a "
                   "quicker CI job.")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=REPORTS,
              help="With --prove: where the lint-<time> directory of proof runs goes.")
@click.pass_obj
def lint(config: ClusterConfig, profile: Path, engines: tuple[str, ...], rules: tuple[str, ...], output_format: str,
         output: Path | None, fail_on: str, prove: bool, phases: tuple[str, ...], reports_dir: Path) -> None:
    """List the upgrade pitfalls of PROFILE's stack: for each, the file and key, what clients will see during an
    upgrade and why, the fix, the scenario that shows it and a reference."""
    from harness.app import load_profile
    from harness.lint import lint as find
    from harness.lint import output as write
    from harness.lint.registry import available

    lengths = _phase_lengths(phases)
    loaded = load_profile(profile)
    chosen = list(engines) or [engine for engine in FORMS if FORMS[engine][0] in loaded.forms]
    findings = find(loaded, chosen, rules)
    base = Path.cwd()
    proven = _proven(config, profile, findings, lengths, reports_dir) if prove else None
    text = {"text": lambda: write.as_text(findings, base), "markdown": lambda: write.as_markdown(findings, base),
            "json": lambda: write.as_json(findings, loaded.path, chosen, base, proven),
            "sarif": lambda: write.as_sarif(findings, available(), base)}[output_format]()
    if proven is not None and output_format in ("text", "markdown"):
        text += "\n\n" + write.proofs_markdown(proven, base)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        click.echo(f"{len(findings)} finding(s) written to {output}", err=True)
    sys.exit(1 if fail_on != "never" and any(f.at_least(fail_on) for f in findings) else 0)


def _phase_lengths(texts: tuple[str, ...]) -> dict[str, str]:
    """``--phase NAME=DURATION`` values by name; a bad one is a usage error naming it."""
    from harness.lint.prove import UPGRADE
    from harness.scenario.model import Phases

    names = (*Phases.model_fields, UPGRADE)
    lengths = {}
    for text in texts:
        name, _, duration = text.partition("=")
        if name not in names or not duration:
            raise click.BadParameter(f"{text!r}: give NAME=DURATION, NAME one of {', '.join(names)}",
                                     param_hint="--phase")
        parse_durations((duration,), "--phase")
        lengths[name] = duration
    return lengths


def _proven(config: ClusterConfig, profile: Path, findings: list, phases: dict[str, str], reports_dir: Path) -> list:
    """The proof runs of the findings of the cluster's engine, and their fixed variants, with ``phases`` where
    given, on the cluster; their scenario files, runs, lint.md and lint.json in a lint-<time> directory of
    ``reports_dir``."""
    from harness.lint.output import as_json, proofs_html, proofs_markdown
    from harness.lint.prove import prove, trials
    from harness.matrix import run_once
    from harness.reportfile import REPORT_FILE, read_report
    from harness.runner import Runner
    from harness.scenario import load_scenario

    (engine,) = engines_of(config, None)
    directory = reports_dir / f"lint-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    planned = trials([finding for finding in findings if finding.engine == engine], directory, phases)
    files = [path for trial in planned for path in (trial.scenario, trial.fixed) if path is not None]
    scenarios = {path: load_scenario(path) for path in files}
    handle = Cluster(config, progress)
    app = prepared(checked_profile(profile, list(scenarios.values()), [engine]), list(scenarios.values()), handle)
    handle.up()

    def run(path: Path) -> tuple[Path, dict | None]:
        progress(f"proof: {path.stem}")
        runner = Runner(scenarios[path], handle, directory, app, progress, ui.live)
        run_once(runner, progress)
        return runner.run_dir, read_report(runner.run_dir) if (runner.run_dir / REPORT_FILE).exists() else None

    proven = prove(planned, run)
    ui.done()
    (directory / "lint.md").write_text(proofs_markdown(proven, Path.cwd()))
    (directory / "lint.json").write_text(as_json(findings, profile, [engine], Path.cwd(), proven) + "\n")
    (directory / "lint.html").write_text(proofs_html(proven, directory, f"lint --prove: {profile.stem} on {engine}"))
    progress(f"proofs: {directory}/lint.html, lint.md, lint.json")
    return proven


COMMANDS = [lint]
