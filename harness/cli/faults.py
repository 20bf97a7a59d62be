"""``faults list``: the fault plugins installed."""

from __future__ import annotations

import click


@click.group()
def faults() -> None:
    """Fault plugins."""


@faults.command("list")
def faults_list() -> None:
    """Every installed fault with its parameters."""
    from harness.faults.registry import available

    for name, plugin in sorted(available().items()):
        params = ", ".join(f"{key}={field.get_default(call_default_factory=True)!r}"
                           for key, field in plugin.Params.model_fields.items())
        click.echo(f"{name}\t{plugin.description}\n\tparams: {params or 'none'}")


COMMANDS = (faults,)
