"""``chaos-harness lint``: the upgrade pitfalls of the user's stack, read from its files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import APP
from harness.engine import FORMS

FORMATS = ("text", "markdown", "json", "sarif")
FAIL_ON = ("error", "warning", "note", "never")


@click.command()
@click.argument("profile", type=APP)
@click.option("--engine", "engines", multiple=True, type=click.Choice(tuple(FORMS)),
              help="Lint what this engine would deploy (repeat for both; default: every engine the profile has a "
                   "form for).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the findings to this file (default: standard output).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a finding this severe or more is found.")
def lint(profile: Path, engines: tuple[str, ...], output_format: str, output: Path | None, fail_on: str) -> None:
    """List the upgrade pitfalls of PROFILE's stack: for each, the file and key, what clients will see during an
    upgrade and why, the fix, the scenario that shows it and a reference."""
    from harness.app import load_profile
    from harness.lint import lint as find
    from harness.lint import output as write
    from harness.lint.registry import available

    loaded = load_profile(profile)
    chosen = list(engines) or [engine for engine in FORMS if FORMS[engine][0] in loaded.forms]
    findings = find(loaded, chosen)
    base = Path.cwd()
    text = {"text": lambda: write.as_text(findings, base), "markdown": lambda: write.as_markdown(findings, base),
            "json": lambda: write.as_json(findings, loaded.path, chosen, base),
            "sarif": lambda: write.as_sarif(findings, available(), base)}[output_format]()
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        click.echo(f"{len(findings)} finding(s) written to {output}", err=True)
    sys.exit(1 if fail_on != "never" and any(f.at_least(fail_on) for f in findings) else 0)


COMMANDS = [lint]
