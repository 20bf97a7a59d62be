"""Every registered fault, on the real cluster: inject, verify, symptom, heal, verify, healthy."""

from __future__ import annotations

import pytest

from harness.faults.conformance import built_in_faults, exercise
from harness.faults.symptoms import SYMPTOMS

pytestmark = pytest.mark.docker
TARGET = "node2"  # a worker running upgraded tasks: neither the manager (LB) nor the stateful node


@pytest.mark.parametrize("kind", built_in_faults())
def test_fault_takes_effect_and_heals(cluster, demo, kind):
    assert kind in SYMPTOMS, f"fault {kind} has no observable symptom defined in harness.faults.symptoms"
    trial = exercise(cluster, demo, kind, TARGET)
    assert not trial.symptom_before, f"the symptom of {kind} showed before the fault was injected"
    assert trial.held_after_inject, f"{kind}.verify() was false right after inject"
    assert trial.effect_after > 0
    assert not trial.held_after_heal, f"{kind}.verify() was still true after heal"
