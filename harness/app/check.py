"""``chaos-harness app check``: will the harness understand this stack? A one-minute answer on the cluster.

Deploys the profile's old release, waits until it is healthy through the
load balancer, sends a few of the profile's requests and health checks, and
shows which release (task, node) answered each: proof that attribution works
without the app's help. The stack is removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.app import App
from harness.app.profile import WRITE_ID, Request
from harness.cluster import Cluster
from harness.http import Answer
from harness.scenario import Stack
from harness.stack import BLUE, GREEN, AppStack, probe_of, router
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Answered:
    """One request of the check: what was asked, the status, and which release, task and node answered."""

    request: str
    status: int | None
    release: str | None
    node: str | None
    server: str | None

    @property
    def attributed(self) -> bool:
        return self.release is not None


def check(cluster: Cluster, app: App, rounds: int = 2, progress: Progress = lambda _: None) -> list[Answered]:
    """Deploy the old release, ask, attribute, remove; the answers in the order they were asked."""
    app.push(cluster.push_image)
    stack = stack_for(cluster, app, Stack(**{"from": "old", "to": "old"}))
    engine = cluster.engine
    progress(f"deploying {app.profile.name} at release {stack.old} and waiting until it is healthy")
    try:
        deploy_and_wait(engine, router(cluster.state.lb_admin), stack)
        tasks = engine.service(stack.services()[0]).running()
        where = {address: (t.version, t.node) for t in tasks for address in t.addresses}
        return [_attribute(label, answer, where) for label, answer in _ask(stack, rounds)]
    finally:
        progress("removing the stack")
        for slot in (GREEN, BLUE):
            engine.remove_stack(slot.stack)


def _ask(stack: AppStack, rounds: int) -> Iterator[tuple[str, Answer | None]]:
    model = stack.profile.model
    requests = model.load.requests or [Request(path="/")]
    health = Request(name="health", path=model.entry.health.path)
    for _ in range(rounds):
        for request in (health, *requests):
            yield f"{request.method} {request.path}", stack.send(request)
    if model.writes is not None:
        write_id = f"check-{uuid.uuid4().hex[:12]}"
        for request in (model.writes.write, model.writes.read):
            yield f"{request.method} {request.path.replace(WRITE_ID, write_id)}", stack.send(request, write_id)


def _attribute(label: str, answer: Answer | None, where: dict[str, tuple[str, str]]) -> Answered:
    if answer is None:
        return Answered(label, None, None, None, None)
    probe = probe_of(answer)
    release, node = where.get(probe.address or "", (None, None))
    return Answered(label, probe.status, release, node, probe.server)
