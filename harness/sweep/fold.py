"""A sweep's runs folded into points, and each strategy's predictability.

A point is *consistent* when every repeat at it ended with the same outcome
and the same rollback verdict; with fewer than two runs that reported what
they measured (a refused run measured nothing), it is not judged (None). A strategy's predictability is the share of its judged
points that are consistent; with it goes the worst downtime seen anywhere in
its sweep. Each run also says whether the swept fault struck at all (a step
a run never reached, such as green ready when green never was, leaves it
unstruck).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.compare import Spread, is_refused
from harness.errors import UsageError
from harness.files import MiB
from harness.jsonl import read_json
from harness.models import format_errors
from harness.scenario import StrategyKind

SWEEP_SCHEMA = "chaos-harness/sweep@1"
SWEEP_FILE = "sweep.json"
NO_REPORT = "no report"  # the outcome of a run that ended before its report was written
REFUSED = "refused"  # the outcome of a run refused before it started: it measured nothing
MAX_SWEEP_BYTES = 16 * MiB
MAX_REPEAT = 1000


@dataclass(frozen=True)
class SweepEntry:
    """One finished run of the sweep: where its directory is (relative to the sweep's) and what its report says."""

    strategy: str
    point: str
    at: dict
    repeat: int
    run_dir: str
    report: dict | None
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.report is None:
            return NO_REPORT
        return REFUSED if is_refused(self.report) else self.report["upgrade"]["outcome"]

    @property
    def measured(self) -> bool:
        """Whether the run reported what it measured (not when it ended before its report or was refused)."""
        return self.report is not None and not is_refused(self.report)

    @property
    def struck(self) -> bool | None:
        """Whether the swept fault (the scenario's first, id ``0-<kind>``) was injected; None without a report."""
        if self.report is None:
            return None
        return any(str(fault.get("id", "")).startswith("0-") for fault in self.report.get("faults") or [])

    @property
    def rollback(self) -> str:
        """none (nothing rolled back), succeeded or failed: the rollback verdict."""
        rollback = self.report["rollback"] if self.report else {"triggered": False}
        if not rollback["triggered"]:
            return "none"
        return "succeeded" if rollback["success"] else "failed"

    def summary(self) -> dict:
        report = self.report or {}
        return {"repeat": self.repeat, "run_dir": self.run_dir, "run_id": report.get("run_id"),
                "outcome": self.outcome, "rollback": self.rollback, "struck": self.struck,
                "downtime": report.get("downtime"),
                "longest_outage": report.get("longest_outage"), "passed": report.get("passed", False),
                "error": self.error}


def fold(entries: list[SweepEntry], header: dict) -> dict:
    """The sweep document (``sweep.json``): ``header`` (scenario, app, fault, repeat), then per strategy its
    points in sweep order, each with every repeat, and its predictability."""
    strategies: dict[str, dict[str, list[SweepEntry]]] = {}
    for entry in entries:
        strategies.setdefault(entry.strategy, {}).setdefault(entry.point, []).append(entry)
    return {"schema": SWEEP_SCHEMA, **header,
            "strategies": {kind: _strategy(points) for kind, points in strategies.items()}}


def _strategy(points: dict[str, list[SweepEntry]]) -> dict:
    folded = [_point(name, runs) for name, runs in points.items()]
    judged = [point["consistent"] for point in folded if point["consistent"] is not None]
    downtimes = [run["downtime"] for point in folded for run in point["runs"] if run["downtime"] is not None]
    return {"points": folded, "predictability": sum(judged) / len(judged) if judged else None,
            "judged_points": len(judged), "consistent_points": sum(judged),
            "worst_downtime": max(downtimes, default=None)}


def _point(name: str, runs: list[SweepEntry]) -> dict:
    reported = [run for run in runs if run.measured]
    endings = Counter((run.outcome, run.rollback) for run in reported)
    summaries = [run.summary() for run in sorted(runs, key=lambda r: r.repeat)]
    return {"point": name, "at": runs[0].at, "runs": summaries,
            "consistent": len(endings) == 1 if len(reported) >= 2 else None,
            "struck": sum(bool(run.struck) for run in reported),
            "outcomes": dict(Counter(run.outcome for run in runs)),
            "rollbacks": dict(Counter(run.rollback for run in runs)),
            "downtime": asdict(Spread.of(s["downtime"] for s in summaries)),
            "longest_outage": asdict(Spread.of(s["longest_outage"] for s in summaries))}


def predictability_line(kind: str, strategy: dict) -> str:
    """``in-service: 3 of 4 points (75%) ended alike in every repeat; worst downtime 1.234 s``; points with
    fewer than two reported runs (one repeat, an interrupted sweep) are not judged, and the line says so."""
    worst = strategy["worst_downtime"]
    shown = "-" if worst is None else f"{worst:.3f} s"
    judged, points = strategy["judged_points"], len(strategy["points"])
    if not judged:
        return f"{kind}: not measured (no point has two runs to compare); worst downtime {shown}"
    unjudged = f" ({points - judged} of {points} points with fewer than two runs not judged)" if judged < points else ""
    return (f"{kind}: {strategy['consistent_points']} of {judged} points ({strategy['predictability']:.0%}) ended "
            f"alike in every repeat{unjudged}; worst downtime {shown}")


class _Written(BaseModel):
    """A part of sweep.json as the harness writes it: JSON types exactly; what ``fold`` computes is not read."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, allow_inf_nan=False)


class SweptRun(_Written):
    repeat: int = Field(ge=1, le=MAX_REPEAT)
    run_dir: str = Field(min_length=1, max_length=255, description="a directory in the sweep's own")
    run_id: str | None  # null: the run ended before its report; required all the same, as the harness writes it
    error: str | None

    @field_validator("run_dir")
    @classmethod
    def _inside_the_sweep(cls, name: str) -> str:
        if name in (".", "..") or any(c in name for c in "/\\\x00"):
            raise ValueError("the name of a run directory inside the sweep's directory: no path, not . or ..")
        return name


class SweptPoint(_Written):
    point: str = Field(min_length=1, max_length=200)
    at: dict[Literal["phase", "step", "offset", "tasks_replaced"], str | float]
    runs: list[SweptRun] = Field(min_length=1)


class SweptStrategy(_Written):
    points: list[SweptPoint]


class SweptFault(_Written):
    kind: str = Field(min_length=1, max_length=100)
    target: dict[str, str | int] = {}
    duration: float | None = None


class SweepFile(_Written):
    """sweep.json: what every point shares, then per strategy its points and their runs."""

    schema_: Literal["chaos-harness/sweep@1"] = Field(alias="schema")
    scenario: str = Field(max_length=200)
    app: str = Field(max_length=200)
    engine: Literal["swarm", "kubernetes"] = "swarm"  # a sweep from before engines were recorded: Swarm's
    fault: SweptFault
    repeat: int = Field(ge=1, le=MAX_REPEAT)
    strategies: dict[StrategyKind, SweptStrategy]


def read_sweep(directory: Path) -> dict:
    """A sweep directory's ``sweep.json``, every key ``fold`` and the commands read checked by ``SweepFile`` (what
    ``fold`` computes is computed again); ``UsageError`` naming the file, the key and what is allowed."""
    path = directory / SWEEP_FILE
    document = read_json(path, "sweep file", MAX_SWEEP_BYTES)
    try:
        SweepFile.model_validate(document)
        return document
    except ValidationError as error:
        raise UsageError(format_errors(path, error.errors(), SweepFile, "sweep file")
                         + f"\n(`chaos-harness sweep` writes {SWEEP_FILE}; see its runs with `chaos-harness compare "
                           "RUN_DIR...`)") from None


def sweep_runs(directory: Path) -> list[tuple[Path, str]]:
    """Every run directory of the sweep in ``directory`` that has a report, with its point's label."""
    document = read_sweep(directory)
    return [(directory / run["run_dir"], point["point"])
            for strategy in document["strategies"].values() for point in strategy["points"]
            for run in point["runs"] if run["run_id"] is not None]


def is_sweep(directory: Path) -> bool:
    """Whether ``directory`` holds a sweep.json (of whatever kind: reading it says what is wrong with it)."""
    return os.path.lexists(directory / SWEEP_FILE)
