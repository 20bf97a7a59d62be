"""Scenario files: YAML in, a validated, typed ``Scenario`` out.

Every problem is reported before anything starts, each naming the file, the
key path, the bad value and what is allowed: the model's own
(``harness.scenario.model``), and whether each fault fits its plugin
(``harness.faults.fit``), which is why loading lives above both.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import ScenarioError
from harness.faults.fit import fault_problems
from harness.models import format_errors, load_model, parse_duration
from harness.scenario.model import (
    MAX_CLIENT_TIMEOUT, STEPS, STRATEGIES, Expect, FaultSpec, Phases, Scenario, Stack, StrategyKind, Target, Timing,
    contradictions, node_name_error, timing_problems,
)

__all__ = ["MAX_CLIENT_TIMEOUT", "STEPS", "STRATEGIES", "Expect", "FaultSpec", "Phases", "Scenario", "Stack",
           "StrategyKind", "Target", "Timing", "load_scenario", "node_name_error", "parse_duration",
           "timing_problems"]


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file: its keys, what contradicts what, and each fault's parameters."""
    path = Path(path)
    scenario = load_model(path, Scenario, "scenario", ScenarioError)
    problems = [*contradictions(scenario), *fault_problems(scenario)]
    if problems:
        raise ScenarioError(format_errors(path, problems, Scenario, "scenario"))
    return scenario
