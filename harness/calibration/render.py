"""The calibration table: on the terminal, as calibration.json and as calibration.md."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from harness.calibration.measure import cells
from harness.calibration.plan import KINDS, CalibrationPlan
from harness.calibration.session import RateResult
from harness.report.markdown import markdown_table

SCHEMA = "chaos-harness/calibration@2"
COLUMNS = ("rate", "outage", "length", "n", "median err", "worst err", "1/rate", "clock ± median / max", "bound",
           "ok")
STEADINESS_COLUMNS = ("rate", "sent", "per-second CV", "schedule lag p99", "steady")


def document(results: Sequence[RateResult], plan: CalibrationPlan, about: dict) -> dict:
    """calibration.json: the plan, every cell with its trials' figures, and the load's steadiness per rate."""
    table = cells([t for r in results for t in r.trials], plan.timeout)
    within = all(cell.within for cell in table)
    tight = all(cell.tight for cell in table)
    steady = all(r.steadiness.steady is not False for r in results)  # None: too short a load to tell
    return {
        "schema": SCHEMA, "created_at": time.time(), "machine": f"{platform.node()} ({platform.machine()})", **about,
        "plan": {"rates": list(plan.rates), "durations": list(plan.durations), "kinds": list(plan.kinds),
                 "repeats": plan.repeats, "timeout": plan.timeout, "made_by": {k: KINDS[k] for k in plan.kinds}},
        "cells": [cell.as_dict() for cell in table],
        "steadiness": [r.steadiness.as_dict() for r in results],
        "within": within, "tight": tight, "steady": steady, "passed": within and tight and steady,
    }


def rows(doc: dict) -> list[list[str]]:
    """The table's rows as text, from calibration.json."""
    return [[f"{c['rate']:g}/s", c["kind"], _ms(c["duration"]), str(c["trials"]), _ms(c["median_error"], True),
             _ms(c["worst_error"], True), _ms(c["resolution"]),
             f"{_ms(c['median_uncertainty'])} / {_ms(c['uncertainty'])}", _ms(c["bound"]), c["verdict"]]
            for c in doc["cells"]]


def steadiness_rows(doc: dict) -> list[list[str]]:
    return [[f"{s['rate']:g}/s", "-" if s["achieved"] is None else f"{s['achieved']:.1f}/s",
             "-" if s["cv"] is None else f"{s['cv']:.1%}", _ms(s["lag_p99"]),
             {True: "yes", False: "NO", None: "-"}[s["steady"]]] for s in doc["steadiness"]]


def markdown(doc: dict) -> str:
    """calibration.md."""
    lines = [f"# Calibration: {doc.get('app', 'app')} on cluster {doc.get('cluster', '?')}", "", _preamble(doc), "",
             *markdown_table(COLUMNS, rows(doc)), "", "## The load while it ran", "",
             *markdown_table(STEADINESS_COLUMNS, steadiness_rows(doc))]
    return "\n".join(lines) + "\n"


def _preamble(doc: dict) -> str:
    """What was done and what the columns mean."""
    plan = doc["plan"]
    made_by = "; ".join(f"{kind}: {how}" for kind, how in plan["made_by"].items())
    limits = {c["kind"]: c["clock_limit"] for c in doc["cells"]}
    limits_text = ", ".join(f"{kind} {_ms(limit)}" for kind, limit in limits.items())
    return (f"Outages of known length at the load balancer ({made_by}), {plan['repeats']} of each, measured with the "
            f"run analysis; client timeout {plan['timeout']:g}s. Error = measured downtime - known length, known from "
            "the clock around what started and ended it (a refusal: the harness's runtime API calls; a black hole: "
            "the commands on the node); clock ± = half the duration of those calls, median and worst of a cell; "
            "ok = the median error is within the bound; LOOSE = the median clock ± is above the limit an error can "
            f"be judged with ({limits_text}).")


def write(out_dir: Path, doc: dict) -> list[Path]:
    """calibration.json and calibration.md in ``out_dir``."""
    paths = [out_dir / "calibration.json", out_dir / "calibration.md"]
    paths[0].write_text(json.dumps(doc, indent=2) + "\n")
    paths[1].write_text(markdown(doc))
    return paths


def _ms(seconds: float | None, signed: bool = False) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:+.1f}ms" if signed else f"{seconds * 1000:.1f}ms"

