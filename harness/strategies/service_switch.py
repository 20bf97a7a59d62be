"""Service-switch: Kubernetes' own blue-green; green beside blue, and a Service's selector flipped to it.

    deploy   green's Deployments run the new release beside blue's in blue's
             namespace, as ``<name>-green`` (a Service selects the pods of its
             own namespace only), their pods labelled as green's
    ready    as blue-green: every green pod ready and passing HAProxy's checks,
             smoke requests through the preview route answered by the new release
    switch   one patch of the live Service's selector, from blue's pods to green's;
             every node's kube-proxy then learns the new endpoints on its own
    monitor  as blue-green; rollback is the patch back

Clients reach the live Service through HAProxy, a server per node at the node's address and the Service's
NodePort, so that what each node's kube-proxy does is what clients see. Which pod answered comes from each node's
connection tracking (``ConnectionTrace``, joined in ``harness.analysis.connections``), not from the app.

A connection kept alive stays on the pod it was translated to: requests on connections opened before the switch
keep reaching blue, as they do in any cluster (the report's propagation window shows it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from harness.analysis.connections import Translation, parse_events
from harness.engine.base import RegistryAuth, UpdatePolicy
from harness.errors import HarnessError
from harness.journal import Journal
from harness.jsonl import write_jsonl
from harness.runfiles import CONNECTIONS_FILE
from harness.stack import BLUE, SWITCH_GREEN, AppStack, Probe, StackSlot
from harness.stack.compose import LIVE_NODE_PORT
from harness.stack.manifests import LIVE_SERVICE, selector_patch
from harness.stack.router import Router
from harness.strategies.blue_green import BlueGreenUpgrade

if TYPE_CHECKING:
    from harness.engine.kubernetes.engine import KubernetesEngine

RunOn = Callable[[str, list[str]], object]  # a command on a node: its ExecResult
# Every new TCP connection to the NodePort, timestamped, into a file on the node; bounded in time by ``timeout``,
# so that it ends by itself even if the harness does not live to stop it; then the connections already there (the
# load balancer keeps idle ones alive, even from an earlier run), each stamped with the time of the listing. Prints
# the trace's PID.
_TRACE = """
timeout "$3" stdbuf -oL conntrack -E -e NEW -p tcp --dport "$1" -o timestamp,id >"$2" 2>&1 </dev/null &
pid=$!
now=$(date +%s.%N)
conntrack -L -p tcp --dport "$1" 2>/dev/null | sed "s/^/[$now] [EXISTING] /" >"$2.existing"
echo $pid
"""
# Stops it by its PID (only if that PID is still the trace's), prints what it recorded, removes the files.
_COLLECT = ('if grep -qs conntrack "/proc/$1/cmdline" 2>/dev/null; then kill "$1"; sleep 0.2; fi; '
            'cat "$2.existing" "$2"; rm -f "$2.existing" "$2"')


class ConnectionTrace:
    """``conntrack -E`` on every node for the run's length: each connection the node's kube-proxy translated."""

    def __init__(self, run_on: RunOn, nodes: tuple[tuple[str, str], ...], port: int, limit: float) -> None:
        self._run_on = run_on
        self._nodes = nodes  # (name, address)
        self._port = port
        self._limit = limit  # seconds the trace may run at most
        self._file = ""
        self._pids: dict[str, str] = {}

    def start(self, name: str) -> dict[str, str]:
        """Begin on every node (the file named after ``name``, the run); node -> the trace's PID."""
        self._file = f"/tmp/chaos-harness-conntrack-{name}.txt"
        argv = lambda: ["sh", "-c", _TRACE, "trace", str(self._port), self._file, f"{self._limit:.0f}"]  # noqa: E731
        with ThreadPoolExecutor() as pool:
            started = dict(zip((n for n, _ in self._nodes),
                               pool.map(lambda node: self._run_on(node, argv()), (n for n, _ in self._nodes))))
        self._pids = {node: result.output.strip() for node, result in started.items() if result.ok}
        return dict(self._pids)

    def stop(self) -> tuple[list[Translation], dict[str, str]]:
        """Stop every node's trace by its PID; what they recorded, and the nodes that could not be asked (why)."""
        found: list[Translation] = []
        missed: dict[str, str] = {}
        for node, pid in self._pids.items():
            try:
                result = self._run_on(node, ["sh", "-c", _COLLECT, "collect", pid, self._file])
            except HarnessError as error:
                missed[node] = str(error)
                continue
            found += parse_events(result.output, node)
        self._pids = {}
        return sorted(found, key=lambda t: t.t), missed


class ServiceSwitchUpgrade(BlueGreenUpgrade):
    """Blue-green whose switch is the live Service's selector, seen through every node's kube-proxy."""

    name = "service-switch"
    green_slot: StackSlot = SWITCH_GREEN

    def __init__(self, engine: KubernetesEngine, router: Router, stack: AppStack, auth: RegistryAuth | None,
                 policy: UpdatePolicy, publish: int | None, trace: ConnectionTrace,
                 clock: Callable[[], float] = time.time, smoke: Callable[[], Probe | None] | None = None) -> None:
        super().__init__(engine, router, stack, auth, policy, publish, clock, smoke)
        self._kubernetes = engine
        self._trace = trace
        self._tracing = False

    def trace_start(self, journal: Journal) -> None:
        """Every node's connection tracking, from before the load starts."""
        pids = self._trace.start(journal.path.parent.name)
        self._tracing = True
        journal.write("connections.traced", port=LIVE_NODE_PORT, nodes=dict(self._stack.options.switch_nodes),
                      pids=pids)

    def trace_stop(self, run_dir: Path, journal: Journal) -> None:
        """Stop the traces; what they recorded into ``CONNECTIONS_FILE``."""
        if not self._tracing:
            return
        self._tracing = False
        found, missed = self._trace.stop()
        count = write_jsonl(run_dir / CONNECTIONS_FILE, (t.record() for t in found))
        journal.write("connections.collected", file=CONNECTIONS_FILE, translations=count, missed=missed)

    def _deploy_green(self) -> None:
        """Green's Deployments beside blue's, deployed with blue's objects as one stack (a deploy prunes what it
        does not name)."""
        rendered = self._stack.switch_green(self._publish)
        self._kubernetes.ensure_objects(rendered.objects)
        self._kubernetes.deploy_stack(BLUE.stack, rendered.compose, self._auth, pin_digests=False,
                                      manifests=rendered.manifests)

    def _route(self, slot: StackSlot) -> None:
        """The live Service's selector to ``slot``'s pods: one patch."""
        self._kubernetes.patch_service(BLUE.stack, LIVE_SERVICE, selector_patch(slot.backend))
