"""Removing a stack whose network a stopping task still uses: asked again until nothing of it is left."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.engine.swarm import SwarmEngine
from harness.errors import EngineError, WaitTimeout


class StoppingStack:
    """A manager whose stack loses its services at the first `stack rm` and its network only at the second: the
    first is refused, a task still using the network."""

    def __init__(self, refusals: int = 1) -> None:
        self.services, self.networks, self.refusals, self.asked = ["web"], ["default"], refusals, 0
        self.client = SimpleNamespace(services=SimpleNamespace(list=lambda filters: list(self.services)),
                                      networks=SimpleNamespace(list=lambda filters: list(self.networks)))

    def stack_rm(self, node: str, argv: list[str], stdin: bytes | None) -> str:
        assert node == "node1" and argv == ["docker", "stack", "rm", "chaos"]
        self.asked += 1
        self.services = []
        if self.asked <= self.refusals:
            raise EngineError("`docker stack rm chaos` failed on node1: network x is in use by task y")
        self.networks = []
        return ""


def engine(stack: StoppingStack) -> SwarmEngine:
    return SwarmEngine(["node1"], lambda node: stack.client, "node1", stack.stack_rm)


def test_a_network_still_in_use_is_removed_by_asking_again():
    stack = StoppingStack()
    engine(stack).remove_stack("chaos", timeout=10)
    assert stack.asked == 2 and stack.services == [] and stack.networks == []


def test_a_stack_that_never_goes_is_a_timeout_naming_the_last_refusal():
    stack = StoppingStack(refusals=1000)
    with pytest.raises(WaitTimeout, match="in use by task"):
        engine(stack).remove_stack("chaos", timeout=3)


def test_nothing_deployed_is_nothing_to_remove():
    stack = StoppingStack()
    stack.services, stack.networks = [], []
    engine(stack).remove_stack("chaos")
    assert stack.asked == 0
