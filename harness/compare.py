"""The strategy x scenario comparison: many runs' reports folded into one row per (scenario, strategy)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import UsageError, one_line, reason
from harness.journal import JOURNAL_FILE

COMPARE_SCHEMA = "chaos-harness/compare@1"
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class Spread:
    """Median and range of one figure over the repeats that measured it."""

    median: float | None
    low: float | None
    high: float | None
    measured: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread:
        known = [v for v in values if v is not None]
        if not known:
            return cls(None, None, None, 0)
        return cls(statistics.median(known), min(known), max(known), len(known))

    def text(self, unit: str, scale: float = 1.0, digits: int = 3) -> str:
        """``1.234s [0.900-1.500]``; a single value or identical values print once."""
        if self.median is None:
            return "-"
        median, low, high = (round(v * scale, digits) for v in (self.median, self.low, self.high))
        return f"{median:g}{unit}" if low == high else f"{median:g}{unit} [{low:g}-{high:g}]"


@dataclass(frozen=True)
class Row:
    """One scenario (on one app) under one strategy, over its repeats."""

    scenario: str
    strategy: str
    runs: int
    passed: int
    downtime: Spread
    longest_outage: Spread
    error_rate: Spread
    p99: Spread
    outcomes: dict[str, int]
    rollbacks_triggered: int
    rollbacks_succeeded: int
    time_to_rollback: Spread
    lost_writes: Spread
    run_ids: list[str]
    downtime_per_run: list[float | None]  # in run_ids order (run ids start with their start time)

    @property
    def rollback_success_rate(self) -> float | None:
        return self.rollbacks_succeeded / self.rollbacks_triggered if self.rollbacks_triggered else None


_ABSENT = object()
_NUMBER, _MAYBE, _NAME = (int, float), (int, float, type(None)), (str, type(None))
_FIELDS: dict[str, tuple[type, ...]] = {  # what a comparison reads from a report, and the types it needs
    "run_id": (str,), "scenario.name": (str,), "scenario.strategy.kind": _NAME, "passed": (bool,),
    "downtime": _MAYBE, "longest_outage": _MAYBE, "load.samples": _NUMBER, "load.failed": _NUMBER,
    "latency.p99": _MAYBE, "upgrade.outcome": (str,), "rollback.triggered": (bool,),
    "rollback.time_to_rollback": _MAYBE, "writes.lost": _MAYBE,
}
_SAID = {_NUMBER: "a number", _MAYBE: "a number or null", (str,): "a string", _NAME: "a string or null",
         (bool,): "true or false"}


def load_reports(run_dirs: Iterable[Path]) -> list[dict]:
    """Each run directory's report (analysed afresh when it has a journal but no report).

    ``UsageError`` names the directory or file that is unusable and why.
    """
    return [_report(run_dir) for run_dir in run_dirs]


def _report(run_dir: Path) -> dict:
    from harness.report.rundir import read_run  # imported here: harness.report imports this module

    if (run_dir / REPORT_FILE).is_file():
        return checked_report(_read_json(run_dir / REPORT_FILE), run_dir / REPORT_FILE)
    if (run_dir / JOURNAL_FILE).is_file():
        return read_run(run_dir).analysed()
    raise UsageError(f"{run_dir} is not a run directory: it has neither {REPORT_FILE} nor {JOURNAL_FILE}")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
        raise UsageError(f"{path} is not readable JSON ({reason(error)}){_rewrite_hint(path)}") from None


def checked_report(document: object, path: Path) -> dict:
    """``document`` when it has every field a comparison reads, with its type; else ``UsageError`` naming ``path``."""
    if (problem := report_problem(document)) is not None:
        raise UsageError(f"{path} is not a chaos-harness report: {problem}{_rewrite_hint(path)}")
    return document


def report_problem(document: object) -> str | None:
    """What keeps ``document`` from being a report a comparison (or a rendering) can read; None if nothing."""
    if not isinstance(document, dict):
        return f"it holds a JSON {type(document).__name__}"
    for dotted, types in _FIELDS.items():
        if not isinstance(value := _field(document, dotted), types):
            found = "it has none" if value is _ABSENT else f"it is {one_line(repr(value), 40)}"
            return f"{dotted} should be {_SAID[types]}, {found}"
    app = document.get("app")  # absent in reports from before app profiles
    if app is not None and not (isinstance(app, dict) and isinstance(app.get("name"), str)):
        return "app should be an object with a name"
    return None


def _field(document: dict, dotted: str) -> object:
    """The value at ``a.b.c``, or ``_ABSENT``."""
    value: object = document
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return _ABSENT
        value = value[key]
    return value


def _rewrite_hint(path: Path) -> str:
    journal = path.parent / JOURNAL_FILE
    return f"; `chaos-harness report {path.parent}` writes it again from {JOURNAL_FILE}" if journal.is_file() else ""


def compare(reports: Iterable[dict], points: dict[str, str] | None = None) -> list[Row]:
    """Rows sorted by scenario, then strategy. ``points``: run id -> the sweep point it ran at, which makes each
    point a scenario row of its own (``halted-node@demo at tasks_replaced=1``), in the sweep's order."""
    points = points or {}
    rank = {point: index for index, point in enumerate(dict.fromkeys(points.values()))}
    groups: dict[tuple[str, int, str, str], list[dict]] = {}
    for report in reports:
        point = points.get(report["run_id"], "")
        strategy = report["scenario"]["strategy"]["kind"] or "unset"  # unset: left open
        groups.setdefault((scenario_label(report), rank.get(point, -1), point, strategy), []).append(report)
    return [_row(f"{scenario} at {point}" if point else scenario, strategy, runs)
            for (scenario, _, point, strategy), runs in sorted(groups.items())]


def scenario_label(report: dict) -> str:
    """``halted-node@guestbook``: the scenario and the app it ran on (reports from before app profiles: the name)."""
    app = report.get("app")
    return f"{report['scenario']['name']}@{app['name']}" if app else report["scenario"]["name"]


def _row(scenario: str, strategy: str, runs: list[dict]) -> Row:
    runs = sorted(runs, key=lambda r: r["run_id"])
    rollbacks = [r["rollback"] for r in runs if r["rollback"]["triggered"]]
    return Row(
        scenario=scenario,
        strategy=strategy,
        runs=len(runs),
        passed=sum(bool(r["passed"]) for r in runs),
        downtime=Spread.of(r["downtime"] for r in runs),
        longest_outage=Spread.of(r["longest_outage"] for r in runs),
        error_rate=Spread.of(r["load"]["failed"] / r["load"]["samples"] if r["load"]["samples"] else None
                             for r in runs),
        p99=Spread.of(r["latency"]["p99"] for r in runs),
        outcomes=dict(Counter(r["upgrade"]["outcome"] for r in runs)),
        rollbacks_triggered=len(rollbacks),
        rollbacks_succeeded=sum(bool(r["success"]) for r in rollbacks),
        time_to_rollback=Spread.of(r["time_to_rollback"] for r in rollbacks),
        lost_writes=Spread.of(r["writes"]["lost"] for r in runs),
        run_ids=[r["run_id"] for r in runs],
        downtime_per_run=[r["downtime"] for r in runs],
    )


def to_document(rows: list[Row]) -> dict:
    """The comparison as JSON (schema ``chaos-harness/compare@1``)."""
    return {"schema": COMPARE_SCHEMA,
            "rows": [{**asdict(row), "rollback_success_rate": row.rollback_success_rate} for row in rows]}
