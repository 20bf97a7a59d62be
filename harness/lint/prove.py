"""``lint --prove``: each finding's proof run on the user's stack, and its fixed variant, the rule's prediction
beside what clients saw.

A proof is a shipped scenario with the user's settings (``Finding.run``) and the expectations a stack without
the pitfall meets; the fixed variant applies the fix on top (``Finding.fixed``). Both are written as scenario
files beside the runs, so that either can be run again by hand. A finding whose proof shows no effect is
"not reproduced on this stack", and said so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import ScenarioError
from harness.lint.model import Finding
from harness.safe_yaml import read_yaml
from harness.scenario.model import DEFAULT_STRATEGY
from harness.shipped import shipped_scenario

UPGRADE = "upgrade"  # the --phase name of the upgrade, bounded by the strategy's timeout
Run = Callable[[Path], tuple[Path, dict | None]]  # a scenario file -> its run directory, and its report (None: none)


@dataclass(frozen=True)
class Effect:
    """What a rule predicts for clients, the expectations of a stack without it, and how a report shows it."""

    predicted: str
    expect: dict
    shown: Callable[[dict], bool]

    @staticmethod
    def observed(report: dict | None) -> str:
        """What clients saw, in a few figures."""
        if report is None:
            return "no report: the run failed before it measured (see its directory)"
        lost = report["writes"]["lost"] if report["writes"]["measured"] else "not measured"
        return (f"{report['load']['failed']} of {report['load']['samples']} requests failed, downtime "
                f"{report['downtime'] or 0:.2f}s, upgrade {report['upgrade']['outcome']}, lost writes {lost}")


def _outcome(report: dict) -> str:
    return report["upgrade"]["outcome"]


OUTAGE = 1.0  # seconds without an answer that count as an outage: a lone request that times out is not one


def _outage(report: dict) -> bool:
    """An outage clients notice, beyond the odd failed request any run may have (the demo's in-service runs of
    a halted node lost up to 60 ms in single requests): the longest outage a second or more, or 1 % failed."""
    load = report["load"]
    failed_share = load["failed"] / load["samples"] if load["samples"] else 0
    return (report.get("longest_outage") or 0) >= OUTAGE or failed_share >= 0.01


EFFECTS = {
    "outage": Effect("clients see an outage: a second or more without an answer, or 1 % of requests failed",
                       {"max_longest_outage": OUTAGE}, _outage),
    "half-upgraded": Effect("the failed upgrade stops half done and stays so",
                            {"upgrade_outcome": ["completed", "rolled_back"]}, lambda r: _outcome(r) == "paused"),
    "lost-writes": Effect("acknowledged writes are lost", {"max_lost_writes": 0},
                          lambda r: r["writes"]["measured"] and (r["writes"]["lost"] or 0) > 0),
}


@dataclass(frozen=True)
class Trial:
    """A finding's proof scenario file, and its fixed variant's (None: the harness cannot apply the fix)."""

    finding: Finding
    scenario: Path
    fixed: Path | None


@dataclass(frozen=True)
class Proven:
    """A finding, its proof run (directory and report) and its fixed variant's."""

    finding: Finding
    run_dir: Path
    report: dict | None  # None: the run failed before it reported
    fixed_dir: Path | None = None
    fixed_report: dict | None = None

    @property
    def effect(self) -> Effect:
        return EFFECTS[self.finding.proof.effect]

    @property
    def reproduced(self) -> bool | None:
        """Whether the proof run showed the predicted effect (None: it has no report)."""
        return None if self.report is None else bool(self.effect.shown(self.report))

    @property
    def fix_removed(self) -> bool | None:
        """Whether the fixed variant showed no effect (None: no fixed variant, or no report of it)."""
        return None if self.fixed_report is None else not self.effect.shown(self.fixed_report)


def trials(findings: list[Finding], directory: Path, phases: dict[str, str] | None = None) -> list[Trial]:
    """Every finding's proof, its scenario files written into ``directory`` (with ``phases`` where given)."""
    directory.mkdir(parents=True, exist_ok=True)
    found = []
    for finding in findings:
        name = _name(f"{finding.rule}-{finding.service}")
        run = merged(finding.run, lengths(phases or {}))
        proof = _write(directory / f"{name}.yaml", scenario_document(finding, run, name))
        fixed = None
        if finding.fixed is not None:
            document = scenario_document(finding, merged(run, finding.fixed), _name(f"{name}-fixed"))
            fixed = _write(directory / f"{name}-fixed.yaml", document)
        found.append(Trial(finding, proof, fixed))
    return found


def lengths(phases: dict[str, str]) -> dict:
    """``--phase`` lengths as scenario changes: ``upgrade`` is the longest the upgrade may take (the strategy's
    timeout), the others are the scenario's phases."""
    changes: dict = {}
    if rest := {name: length for name, length in phases.items() if name != UPGRADE}:
        changes["phases"] = rest
    if UPGRADE in phases:
        changes["strategy"] = {"timeout": phases[UPGRADE]}
    return changes


def scenario_document(finding: Finding, changes: dict, name: str) -> dict:
    """The finding's shipped proof scenario with ``changes``, named ``name``, expecting what a stack without the
    pitfall meets."""
    shipped = read_yaml(shipped_scenario(finding.proof.scenario), "scenario", ScenarioError)
    effect = EFFECTS[finding.proof.effect]
    document = merged(shipped, changes)
    document["strategy"] = {"kind": DEFAULT_STRATEGY, **(document.get("strategy") or {})}  # a run needs one
    document.update(name=name, expect=effect.expect,
                    description=f"The proof of {finding.rule} on {finding.service} ({finding.proof.scenario} with "
                                f"{finding.proof.settings}). Predicted: {effect.predicted}.")
    return document


def prove(planned: list[Trial], run: Run) -> list[Proven]:
    """Each trial's proof run, then its fixed variant's, one after the other."""
    proven = []
    for trial in planned:
        run_dir, report = run(trial.scenario)
        fixed_dir, fixed_report = run(trial.fixed) if trial.fixed is not None else (None, None)
        proven.append(Proven(trial.finding, run_dir, report, fixed_dir, fixed_report))
    return proven


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in, mapping into mapping."""
    result = dict(base)
    for key, value in changes.items():
        result[key] = merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) \
            else value
    return result


def _name(text: str) -> str:
    """A scenario name: lowercase letters, digits and dashes, at most 62."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:62].rstrip("-")


def _write(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
