"""``calibrate``: outages of known length measured with the run analysis, to show how exact its figures are."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from harness.cli.common import (DEFAULT_REPORTS, REPORTS, app_option, checked_profile, engines_of, parse_durations,
                                prepared, progress, ui)
from harness.cluster import Cluster, ClusterConfig


@click.command()
@app_option
@click.option("--rate", "rates", multiple=True, type=click.FloatRange(min=0, min_open=True),
              help="Load rate in requests/s (repeat for several).  [default: 50, 200, 1000]")
@click.option("--duration", "durations", multiple=True, metavar="DURATION",
              help="Outage length such as 100ms or 2s (repeat for several).  [default: 100ms, 500ms, 2s]")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["refusal", "blackhole"]),
              help="Outage kind (repeat for both).  [default: both]")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(min=1, max=100),
              help="Outages of each kind, length and rate.")
@click.option("--timeout", default="1s", show_default=True, metavar="DURATION", help="Client timeout of the load.")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=REPORTS)
@click.option("--json", "as_json", is_flag=True, help="Print calibration.json to stdout.")
@click.pass_obj
def calibrate(config: ClusterConfig, app_path: Path, rates: tuple[float, ...], durations: tuple[str, ...],
              kinds: tuple[str, ...], repeat: int, timeout: str, reports_dir: Path, as_json: bool) -> None:
    """Measure outages of known length at the load balancer with the run analysis: how exact are the figures?

    Exit 1 when a median error is outside its bound (see calibration.md), a cell's clock was too uncertain to
    judge it (LOOSE), or the machine did not hold a rate.
    """
    from harness.calibration import render
    from harness.calibration.plan import DEFAULT_DURATIONS, DEFAULT_RATES, KINDS, CalibrationPlan, check_plan
    from harness.calibration.session import Calibration
    from harness.report.terminal import text_table

    plan = check_plan(CalibrationPlan(rates or DEFAULT_RATES, parse_durations(durations) or DEFAULT_DURATIONS,
                                      kinds or tuple(KINDS), repeat, parse_durations((timeout,))[0]))
    profile = checked_profile(app_path, [], engines_of(config, None))
    handle = Cluster(config, progress)
    app = prepared(profile, [], handle)
    handle.up()
    out_dir = reports_dir / f"calibration-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    progress(f"calibrating for about {plan.seconds() / 60:.0f} min; files in {out_dir}")
    results = Calibration(handle, app, plan, out_dir, progress).run()
    doc = render.document(results, plan, {"cluster": config.name, "app": profile.name})
    for table in (text_table("calibration: measured - known outage", render.COLUMNS, render.rows(doc)),
                  text_table("the load while it ran", render.STEADINESS_COLUMNS, render.steadiness_rows(doc))):
        ui.show(table, stdout=not as_json)
    progress(f"wrote {', '.join(str(p) for p in render.write(out_dir, doc))}")
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    if not doc["steady"]:
        progress("[yellow]note[/]: the load did not hold every rate (see the steadiness table): the errors at "
                  "that rate say more about this machine than about the measurement")
    if not doc["tight"]:
        progress("[yellow]note[/]: some outages' start and end were known only loosely (LOOSE in the table): the "
                  "runtime API calls that made them were slow, as on a loaded machine; their errors were not judged")
    sys.exit(0 if doc["passed"] else 1)


COMMANDS = (calibrate,)
