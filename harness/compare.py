"""The strategy x scenario comparison: many runs' reports folded into one row per (scenario, strategy).

Pure: it reads report documents (``harness.report.rundir.load_reports`` reads them from run directories) and
imports nothing of the reports that render it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from harness.errors import UsageError
from harness.reportfile import number

COMPARE_SCHEMA = "chaos-harness/compare@1"


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
    """One scenario (on one app) under one strategy on one engine, over its repeats."""

    scenario: str
    strategy: str
    engine: str  # ``swarm`` or ``kubernetes`` (reports from before engines were recorded: swarm)
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
    longest_outage_per_run: list[float | None]
    time_to_rollback_per_run: list[float | None]  # None for a run without a rollback
    mixed_window: Spread  # both releases served clients
    propagation_window: Spread  # a switch's request until its last old and first new answer (runs with a switch)
    writes_acknowledged: Spread  # not measured: an app without a write probe
    overhead: Spread  # the harness's own time beyond the scenario's phases (reports from before: not measured)
    machines: list[str]  # in run_ids order: the host the harness ran on, whose clock timed the run
    clusters: list[str]  # in run_ids order: the cluster's name on that machine

    @property
    def places(self) -> dict[str, int]:
        """Runs by ``machine/cluster``, in the order they first occur."""
        return dict(Counter(f"{machine}/{cluster}" for machine, cluster in zip(self.machines, self.clusters)))

    @property
    def rollback_success_rate(self) -> float | None:
        return self.rollbacks_succeeded / self.rollbacks_triggered if self.rollbacks_triggered else None

    @property
    def rollback_verdicts(self) -> dict[str, int]:
        """Runs by rollback verdict: ``succeeded``, ``failed``, ``none`` (not triggered); only those that occur."""
        counts = {"succeeded": self.rollbacks_succeeded, "failed": self.rollbacks_triggered - self.rollbacks_succeeded,
                  "none": self.runs - self.rollbacks_triggered}
        return {verdict: count for verdict, count in counts.items() if count}


def compare(reports: Iterable[dict], points: dict[str, str] | None = None) -> list[Row]:
    """Rows sorted by scenario, then strategy, then engine, of the runs that were not refused (they measured
    nothing: the caller names them, ``refused_runs``). ``points``: run id -> the sweep point it ran at, which makes
    each point a scenario row of its own (``halted-node@demo at tasks_replaced=1``), in the sweep's order.

    UsageError when the runs of one row deployed different revisions of the app's files (``app.revision``).
    """
    points = points or {}
    rank = {point: index for index, point in enumerate(dict.fromkeys(points.values()))}
    groups: dict[tuple[str, int, str, str, str], list[dict]] = {}
    for report in reports:
        if is_refused(report):
            continue
        point = points.get(report["run_id"], "")
        strategy = report["scenario"]["strategy"]["kind"] or "unset"  # unset: left open
        key = (scenario_label(report), rank.get(point, -1), point, strategy, engine_of(report))
        groups.setdefault(key, []).append(report)
    rows = []
    for (scenario, _, point, strategy, engine), runs in sorted(groups.items()):
        rows.append(_row(f"{scenario} at {point}" if point else scenario, strategy, engine, runs))
        _check_one_revision(rows[-1], runs)
    return rows


def engine_of(report: dict) -> str:
    """The engine a run deployed on (``swarm`` in a report from before engines were recorded)."""
    return (report.get("cluster") or {}).get("engine") or "swarm"


def _check_one_revision(row: Row, runs: list[dict]) -> None:
    """UsageError when the runs of ``row`` deployed more than one revision of the app's files."""
    revisions: dict[str, list[str]] = {}
    for report in runs:
        revision = (report.get("app") or {}).get("revision")
        if revision:
            revisions.setdefault(revision, []).append(report["run_id"])
    if len(revisions) > 1:
        found = "; ".join(f"revision {revision}: {', '.join(sorted(ids))}" for revision, ids in revisions.items())
        raise UsageError(f"{row.scenario} under {row.strategy} on {row.engine}: its runs deployed different app files "
                         f"({found}); compare the runs of one revision (a revision is a digest of the profile and "
                         "the files it names, in each report's app.revision)")


def is_refused(report: dict) -> bool:
    """Whether the run was refused before it started (status ``refused``): it measured nothing."""
    return report.get("status") == "refused"


def refused_runs(reports: Iterable[dict]) -> list[str]:
    """The run ids of the refused runs among ``reports``, which ``compare`` leaves out."""
    return [report["run_id"] for report in reports if is_refused(report)]


def scenario_label(report: dict) -> str:
    """``halted-node@guestbook``: the scenario and the app it ran on (reports from before app profiles: the name)."""
    app = report.get("app")
    return f"{report['scenario']['name']}@{app['name']}" if app else report["scenario"]["name"]


def _row(scenario: str, strategy: str, engine: str, runs: list[dict]) -> Row:
    runs = sorted(runs, key=lambda r: (r["run_id"], machine_of(r)))
    rollbacks = [r["rollback"] for r in runs if r["rollback"]["triggered"]]
    return Row(
        scenario=scenario,
        strategy=strategy,
        engine=engine,
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
        longest_outage_per_run=[r["longest_outage"] for r in runs],
        time_to_rollback_per_run=[r["rollback"]["time_to_rollback"] for r in runs],
        mixed_window=Spread.of(number(r, "versions.mixed_window") for r in runs),
        propagation_window=Spread.of(number(r, "propagation.window") for r in runs),
        writes_acknowledged=Spread.of(_acknowledged(r) for r in runs),
        overhead=Spread.of(number(r, "timings.overhead") for r in runs),
        machines=[machine_of(r) for r in runs],
        clusters=[(r.get("cluster") or {}).get("name") or UNKNOWN for r in runs],
    )


UNKNOWN = "unknown"  # a report from before machines were recorded, or one without its cluster


def machine_of(report: dict) -> str:
    """The host the run's harness ran on, whose clock timed it (``unknown`` in a report from before)."""
    return (report.get("cluster") or {}).get("machine") or UNKNOWN


def run_key(report: dict) -> tuple[str, str, float | None]:
    """What makes a run itself: its id, its machine and its start on that machine's clock. Run ids alone can
    repeat across machines (two runners starting the same scenario in the same second)."""
    return report["run_id"], machine_of(report), report.get("started_at")


def origins_note(rows: list[Row]) -> str | None:
    """What a reader must know when the runs come from more than one machine or cluster; None when from one."""
    machines = sorted({machine for row in rows for machine in row.machines})
    places = sorted({place for row in rows for place in row.places})
    if len(machines) > 1:
        return (f"Runs from {len(machines)} machines ({', '.join(machines)}). Each run is timed on its own "
                "machine's clock, so its figures hold whatever the offset between the clocks; but run ids and start "
                "times come from different clocks and do not order runs across machines, and the machines may "
                "differ in speed and load: compare a row's machines before its strategies.")
    if len(places) > 1:
        return f"Runs on {len(places)} clusters of one machine ({', '.join(places)})."
    return None


def _acknowledged(report: dict) -> float | None:
    """Acknowledged writes; None when the app has no write probe (nothing was measured)."""
    return None if report["writes"].get("measured") is False else number(report, "writes.acknowledged")


def to_document(rows: list[Row]) -> dict:
    """The comparison as JSON (schema ``chaos-harness/compare@1``); ``note`` says when the runs come from more
    than one machine or cluster."""
    return {"schema": COMPARE_SCHEMA, "note": origins_note(rows),
            "rows": [{**asdict(row), "rollback_success_rate": row.rollback_success_rate,
                      "rollback_verdicts": row.rollback_verdicts} for row in rows]}
