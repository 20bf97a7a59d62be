"""Judge the scenario's ``expect:`` block against the measured figures."""

from __future__ import annotations

from dataclasses import dataclass

from harness.scenario import Expect


@dataclass(frozen=True)
class Verdict:
    """One expectation: what was expected, what was measured, and whether it held."""

    name: str
    expected: str
    measured: str
    passed: bool


def judge(expect: Expect, figures: dict) -> list[Verdict]:
    """A verdict for each expectation the scenario sets."""
    verdicts: list[Verdict] = []
    if expect.max_downtime is not None:
        verdicts.append(_at_most("max_downtime", figures["downtime"], expect.max_downtime, "s"))
    if expect.max_longest_outage is not None:
        verdicts.append(_at_most("max_longest_outage", figures["longest_outage"], expect.max_longest_outage, "s"))
    if expect.min_availability is not None:
        measured = figures["availability"]
        verdicts.append(Verdict("min_availability", f">= {expect.min_availability:.4f}", _fmt(measured, ""),
                                measured is not None and measured >= expect.min_availability))
    if expect.upgrade_outcome is not None:
        outcome = figures["upgrade_outcome"]
        verdicts.append(Verdict("upgrade_outcome", " or ".join(expect.upgrade_outcome), outcome,
                                outcome in expect.upgrade_outcome))
    if expect.rollback_succeeds is not None:
        rollback = figures["rollback"]
        measured = "not triggered" if not rollback["triggered"] else (
            "succeeded" if rollback["success"] else "failed: " + "; ".join(rollback["reasons"]))
        measured += "".join(f" (unverified: {what})" for what in rollback.get("unverified") or [])
        verdicts.append(Verdict("rollback_succeeds", "succeeded" if expect.rollback_succeeds else "not succeeded",
                                measured, bool(rollback["success"]) == expect.rollback_succeeds))
    if expect.max_lost_writes is not None and figures.get("writes_measured", True):
        lost, unknown = figures["lost_writes"], figures.get("unverifiable_writes", 0)
        measured = "unknown (read-back failed)" if lost is None else str(lost) + (
            f" ({unknown} more unverifiable)" if unknown else "")
        verdicts.append(Verdict("max_lost_writes", f"<= {expect.max_lost_writes}", measured,
                                lost is not None and not unknown and lost <= expect.max_lost_writes))
    return verdicts


def _at_most(name: str, measured: float | None, limit: float, unit: str) -> Verdict:
    return Verdict(name, f"<= {limit:g}{unit}", _fmt(measured, unit), measured is not None and measured <= limit)


def _fmt(value: float | None, unit: str) -> str:
    return "none" if value is None else f"{value:.3f}{unit}"
