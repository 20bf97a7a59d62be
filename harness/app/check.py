"""``chaos-harness app check``: will the harness understand this stack? A one-minute answer on the cluster.

Deploys the profile's old release, waits until it is healthy through the
load balancer, sends a few of the profile's requests and health checks, and
shows for each which check it passed or failed and which release (task,
node) answered: proof that attribution works without the app's help. With a
write probe, the read-back's negative control runs too (a write made reads
back present, one never made absent), or the profile is refused. The stack
is removed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.app import App
from harness.app.profile import Request
from harness.checks import failure
from harness.cluster import Cluster
from harness.http import Answer
from harness.scenario import Stack
from harness.stack import BLUE, GREEN, AppStack, probe_of, router, writes
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait
from harness.stack.writes import ReadBack

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Answered:
    """One request of the check: what was asked, the status, why it failed its check (None: it passed), and which
    release, task and node answered."""

    request: str
    status: int | None
    reason: str | None
    release: str | None
    node: str | None
    server: str | None

    @property
    def attributed(self) -> bool:
        return self.release is not None

    @property
    def passed(self) -> bool:
        return self.status is not None and self.reason is None


@dataclass(frozen=True)
class Checked:
    """What ``app check`` found: every answer, and the negative control's two reads (None without writes)."""

    answers: list[Answered]
    control: tuple[ReadBack, ReadBack] | None


def check(cluster: Cluster, app: App, rounds: int = 2, progress: Progress = lambda _: None) -> Checked:
    """Deploy the old release, ask, attribute, run the negative control, remove."""
    app.push(cluster.push_image)
    stack = stack_for(cluster, app, Stack(), upgraded=False)
    engine = cluster.engine
    progress(f"deploying {app.profile.name} at release {stack.old} and waiting until it is healthy")
    try:
        for volume in deploy_and_wait(engine, router(cluster.state.lb_admin), stack, run_on=cluster.exec):
            progress(str(volume))
        tasks = engine.service(stack.services()[0]).running()
        where = {address: (t.version, t.node) for t in tasks for address in t.addresses}
        answers = [_attribute(label, answer, reason, where) for label, answer, reason in _ask(stack, rounds)]
        if stack.profile.model.writes is not None:
            progress("negative control: a write made must read back present, one never made absent")
        return Checked(answers, writes.negative_control(stack) if stack.profile.model.writes else None)
    finally:
        progress("removing the stack")
        for slot in (GREEN, BLUE):
            engine.remove_stack(slot.stack)


def _ask(stack: AppStack, rounds: int) -> Iterator[tuple[str, Answer | None, str | None]]:
    model = stack.profile.model
    requests = model.load.requests or [Request(path="/")]
    health = Request(name="health", path=model.entry.health.path, check=model.entry.health.check)
    for _ in range(rounds):
        for request in (health, *requests):
            answer = stack.send(request)
            reason = failure(request.check, answer.status, answer.headers, answer.body) if answer else "no answer"
            yield f"{request.method} {request.path}", answer, reason


def _attribute(label: str, answer: Answer | None, reason: str | None, where: dict[str, tuple[str, str]]) -> Answered:
    if answer is None:
        return Answered(label, None, reason, None, None, None)
    probe = probe_of(answer)
    release, node = where.get(probe.address or "", (None, None))
    return Answered(label, probe.status, reason, release, node, probe.server)
