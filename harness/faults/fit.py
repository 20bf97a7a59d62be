"""Does a scenario's every fault fit the plugins installed: a known kind, valid parameters, timing that can fire."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from harness.faults import registry
from harness.faults.base import scenario_problems
from harness.scenario.model import ErrorDict, FaultSpec, Scenario, timing_problems


def fault_problems(scenario: Scenario) -> list[ErrorDict]:
    """Every problem of every fault, its key path under ``faults.<index>``."""
    known = registry.available()
    problems: list[ErrorDict] = []
    for index, fault in enumerate(scenario.faults):
        found = [*timing_problems(scenario, fault), *_plugin_problems(known, scenario, fault)]
        problems.extend({**p, "loc": ("faults", index, *p["loc"])} for p in found)
    return problems


def _plugin_problems(known: dict[str, Any], scenario: Scenario, fault: FaultSpec) -> list[ErrorDict]:
    """The fault's kind known, its parameters valid for the plugin, and consistent with the rest of the scenario."""
    if fault.kind not in known:
        return [{"loc": ("kind",), "input": fault.kind,
                 "msg": f"unknown fault; known faults: {', '.join(sorted(known))}"}]
    plugin = known[fault.kind]
    try:
        params = plugin.Params.model_validate(fault.params)
    except ValidationError as error:
        return [{**e, "loc": ("params", *e["loc"])} for e in error.errors()]
    return [{"loc": p.loc, "input": p.value, "msg": p.msg} for p in scenario_problems(plugin, params, fault, scenario)]
