"""Cleaning up after crashed runs: ``heal`` what they left, ``audit`` what is left behind."""

from __future__ import annotations

import functools
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from harness.cli.common import DEFAULT_REPORTS, progress
from harness.cluster import Cluster, ClusterConfig
from harness.errors import ClusterError, UsageError, one_line
from harness.ledger import HealLedger, LedgerEntry

if TYPE_CHECKING:
    from harness.faults.base import FaultContext


@click.command()
@click.argument("run_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.pass_obj
def heal(config: ClusterConfig, run_dir: Path | None, reports_dir: Path) -> None:
    """Heal what crashed runs left behind (RUN_DIR, or every run under --reports): faults and load processes.

    Damaged ledger lines are reported and skipped; faults injected on another cluster are left for a
    ``heal`` with that ``--cluster``.
    """
    from harness.faults.base import FaultContext
    from harness.load.runner import stop_orphaned_load

    runs = [run_dir] if run_dir else _run_dirs(reports_dir)
    context = functools.cache(lambda: FaultContext(Cluster(config, progress)))  # built once, when first needed
    healed, unreadable = [], [why for path in runs if (why := HealLedger(path).unreadable())]
    for path in runs:
        if (pid := stop_orphaned_load(path)) is not None:
            progress(f"{path.name}: stopped its load process {pid}")
        healed += [_heal_entry(path, ledger, entry, config, context) for ledger, entry in _pending(path)]
    if not all(healed):
        raise ClusterError("some faults could not be healed; see the messages above and retry `chaos-harness heal`")
    if unreadable:
        raise UsageError("heal ledgers that cannot be read, so what they list is NOT healed:\n"
                         + "\n".join(f"  {why}" for why in unreadable))
    progress(f"nothing left to heal on cluster {config.name}")


def _run_dirs(reports_dir: Path) -> list[Path]:
    """The run directories under ``--reports``; ``UsageError`` when it is no directory (nothing to say is healed)."""
    if not reports_dir.is_dir():
        raise UsageError(f"--reports {reports_dir}: no such directory, so no run there can be healed; "
                         "give the directory `chaos-harness run --reports` wrote into (default: reports)")
    return sorted(p for p in reports_dir.glob("*") if p.is_dir())


def _pending(run_dir: Path) -> list[tuple[HealLedger, LedgerEntry]]:
    """The run's ledger and each entry it still lists, its damaged lines reported (and skipped)."""
    ledger = HealLedger(run_dir)
    if ledger.unreadable():
        return []  # said at the end, with every other ledger that cannot be read
    for problem in ledger.damaged():
        progress(f"[yellow]{escape(run_dir.name)}[/]: {escape(problem)}")
    return [(ledger, entry) for entry in ledger.pending()]


def _heal_entry(run_dir: Path, ledger: HealLedger, entry: LedgerEntry, config: ClusterConfig,
                context: Callable[[], FaultContext]) -> bool:
    """Heal one ledger entry (one of another cluster is left for it); False when it could not be healed."""
    from harness.faults.schedule import heal_recorded

    name = escape(f"{run_dir.name}: {entry.id}")
    if entry.cluster != config.name:
        progress(f"{name} left pending: injected on cluster {escape(repr(entry.cluster))}, "
                  f"so heal it with `chaos-harness --cluster {escape(shlex.quote(entry.cluster))} heal`")
        return True
    why = heal_recorded(entry, context(), ledger)
    progress(f"{name} healed" if why is None else f"{name} NOT healed: {escape(one_line(why))}")
    return why is None


@click.command()
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.pass_obj
def audit(config: ClusterConfig, reports_dir: Path) -> None:
    """List everything the cluster and the runs under --reports left behind; exit 1 if anything.

    On a cluster that is up: fault traces (firewall rules, frozen or held engines, mounts, port squatters,
    registry toxics or rotated credentials) and nodes not running or not Ready. On one that is down:
    labelled containers, networks, volumes and its state directory. In runs: pending heals, live load.
    """
    from harness.audit import audit as find_leftovers

    leftovers = find_leftovers(config, reports_dir)
    for leftover in leftovers:
        click.echo(str(leftover))
    progress(f"cluster {config.name}: {len(leftovers) or 'nothing'} left behind")
    sys.exit(1 if leftovers else 0)


COMMANDS = (heal, audit)
