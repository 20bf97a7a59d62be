"""A node drained for maintenance, the engine's own way, while the upgrade runs."""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import BaseModel

from harness.cluster.config import LB_LABEL
from harness.errors import HarnessError
from harness.faults.base import BaseFault, FaultContext

RETRY_INTERVAL = 1.0  # seconds between two passes of a drain something stood in the way of, as kubectl drain waits
JOIN_TIMEOUT = 30.0  # seconds heal waits for a pass under way (a few API calls, each bounded)


class NodeDrain(BaseFault):
    """The node is drained (``Engine.drain_node``): it takes no new tasks, and its tasks move elsewhere. Swarm
    moves them at once (availability ``drain``); Kubernetes cordons the node and evicts its pods through the
    Eviction API, where a PodDisruptionBudget may refuse: the drain is then tried again every second while the
    fault holds (its duration bounds it), and each refusal is kept, in the engine's words, for the journal
    (``said``). Heal: the node takes tasks again (availability ``active``, uncordon); a crash stops the retries
    with the harness, and the heal rebuilt from the ledger needs nothing else."""

    name = "node-drain"
    needs = frozenset()  # the Eviction API, or Swarm's node availability
    description = ("Drain the node as for maintenance: Swarm's availability drain, Kubernetes' cordon and evictions "
                   "(PodDisruptionBudgets honoured, refusals retried every second while it holds).")

    def __init__(self, params: dict[str, Any] | BaseModel, target: str) -> None:
        super().__init__(params, target)
        self._stop = threading.Event()
        self._retries: threading.Thread | None = None
        self._started = 0.0
        self.refused: list[tuple[float, str]] = []  # (seconds after inject, the engine's refusal), every pass
        self.cleared_after: float | None = None  # seconds after inject when nothing stood in the way any more

    @classmethod
    def check_node(cls, params: Any, node: str, ctx: FaultContext) -> str | None:
        """Not the load balancer's node: a drain there moves the harness's own load balancer, not the app."""
        labels = next((n.labels for n in ctx.cluster.engine.nodes() if n.hostname == node), {})
        return "it runs the harness's load balancer, which a drain would stop" if labels.get(LB_LABEL) == "true" \
            else None

    def inject(self, ctx: FaultContext) -> None:
        self._started = time.time()
        if self._pass(ctx) and not self._stop.is_set():
            self._retries = threading.Thread(target=self._retry, args=(ctx,), name=f"drain-{self.target}",
                                             daemon=True)
            self._retries.start()

    def heal(self, ctx: FaultContext) -> None:
        self._stop.set()
        if self._retries is not None:
            self._retries.join(JOIN_TIMEOUT)
        ctx.cluster.engine.undrain_node(self.target)

    def verify(self, ctx: FaultContext) -> bool:
        """The engine shows the node drained (Kubernetes: cordoned)."""
        return any(n.hostname == self.target and n.availability == "drain" for n in ctx.cluster.engine.nodes())

    def said(self) -> str:
        """What the engine refused while the fault held, once per distinct refusal, with how long it did."""
        if not self.refused:
            return ""
        distinct = list(dict.fromkeys(line for _, line in self.refused))
        last = self.refused[-1][0]
        outcome = (f"nothing refused from {self.cleared_after:.1f} s" if self.cleared_after is not None
                   else f"still refused {last:.1f} s after the drain began")
        return f"{len(self.refused)} refusals, {outcome}: {'; '.join(distinct)}"

    def _pass(self, ctx: FaultContext) -> bool:
        """One pass of the drain; whether something stood in the way."""
        refused = ctx.cluster.engine.drain_node(self.target)
        after = time.time() - self._started
        self.refused += [(after, line) for line in refused.splitlines()]
        if not refused and self.refused:
            self.cleared_after = after
        return bool(refused)

    def _retry(self, ctx: FaultContext) -> None:
        """Another pass every second until nothing stands in the way or heal stops it; an error is kept as a
        refusal (a thread must never break the run)."""
        while not self._stop.wait(RETRY_INTERVAL):
            try:
                if not self._pass(ctx):
                    return
            except HarnessError as error:
                self.refused.append((time.time() - self._started, f"the drain failed: {error}"))
