"""Every run's starting point: the app's old release converged, spread over the nodes, serving through the LB.

Also what the runner needs around it: forgetting an image on the nodes so an
upgrade must pull it, and counting what each node really runs (the census).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import yaml

from harness.checks import failure
from harness.engine.base import Engine, NodeRuntime, RegistryAuth, ServiceSnapshot, image_version
from harness.errors import ClusterError, HarnessError, ProfileError, ServiceMissing, WaitTimeout, one_line
from harness.http import Answer
from harness.stack import (BLUE, GREEN, PROBES, SERVER_HEADER, WRITE_PROBES, AppStack, Probe, probe_of,
                           releases_by_address, served_by, writes)
from harness.stack import manifests
from harness.stack.compose import Rendered
from harness.stack.router import HealthCheck, Router
from harness.stack.volumes import StaleVolume, clear_stale_volumes
from harness.waiting import wait_until

RunOn = Callable[[str, list[str]], object]
LOG_LINES = 20
SPREAD_ATTEMPTS = 3
POLL = 0.25  # seconds between looks at a condition that turns true within seconds
# How prepare restarts the upgraded services (to spread them, or to renew their paths to stateful services): all at
# once, as no clients are there yet; stop-first, so that the old tasks leave their nodes and the new ones spread; a
# monitor period of next to nothing (0 would be Swarm's 5 s), as prepare checks tasks and LB itself. Upgrades set
# their own.
PREPARE_UPDATE = {"parallelism": 0, "delay": "0s", "order": "stop-first", "failure_action": "pause", "monitor": "1ms"}
ANSWERS_SHOWN = 3  # the entry's last answers a wait that gave up shows
BODY_SHOWN = 160  # bytes of each answer's body it shows
PROBE_TIMEOUT = 1.0
SERVING_TIMEOUT = 60.0  # seconds for the entry to be served once its tasks run
# Seconds every entry task may answer the load balancer's health check with a status the profile does not accept
# before prepare stops waiting: a page that answers so that long is the wrong page, not a slow start.
WRONG_ANSWERS_FOR = 20.0
# What to do when the cluster itself is the problem. Taking it down deletes nodes the harness made, and with
# them every volume of the stack: say so, and say the step that deletes nothing first.
REBUILD_ADVICE = ("`chaos-harness audit` lists what earlier runs left (`chaos-harness heal` heals pending faults); "
                  "failing that, `chaos-harness down` and up again, which DELETES the cluster's nodes and with them "
                  "the stack's volumes (the app's data) unless the nodes are existing hosts (--provider ssh)")


def deploy_and_wait(engine: Engine, router: Router, app: AppStack, auth: RegistryAuth | None = None,
                    timeout: float = 180, run_on: RunOn | None = None) -> list[StaleVolume]:
    """Converge blue on ``app.old``, spread over the nodes, live through the LB; no green.

    A stack that never becomes healthy fails within ``timeout`` with the entry
    service's last task states and log lines, and what the entry answered.
    With ``run_on`` (a command on a node), the stack's volumes left on nodes
    where what mounts them no longer runs are removed before the deploy (so
    that it cannot start from them) and after it (the copies it moved away
    from): each is returned, for the journal.
    """
    started = time.time()
    if app.options.switch_nodes and app.options.form != "kubernetes":
        raise ProfileError(f"{app.profile.path}: service-switch labels the app's own Deployments as blue's and "
                           "green's, and this profile gives the app as a compose file only: give its Kubernetes "
                           "objects (kubernetes: in the profile), or run another strategy")
    # A node healed by the run before may still be on its way back; starting
    # without it would skew where tasks land and what the run measures.
    wait_until(lambda: all(n.state == "ready" for n in engine.nodes()), timeout=120,
               what="every cluster node Ready in Swarm", interval=POLL,
               hint=f"A node did not come back from an earlier fault: {REBUILD_ADVICE}.")
    cleared = _clear_volumes(run_on, engine)
    answers = EntryAnswers(app)
    rendered = restarting_at_once(app.blue(app.old), app.upgraded)
    _remove_moved(engine, app)
    engine.ensure_objects(rendered.objects)
    engine.deploy_stack(BLUE.stack, rendered.compose, auth, manifests=rendered.manifests)
    try:
        wait_until(lambda: _routed_to_blue(router), timeout=60, interval=POLL,
                   what="the load balancer's runtime API routing live traffic to blue")
        engine.remove_stack(GREEN.stack)
        _converge(engine, app, timeout)
        _until_serving(engine, router, app, answers)
        _ensure_writes(engine, app, timeout)
    except WaitTimeout as error:
        checks = _health_checks(router)
        shown = "\n".join(["the load balancer's last health checks:", *(f"  {c}" for c in checks)] if checks else [])
        details = f"{diagnose(engine, app, started)}\n{answers.shown()}\n{shown}".rstrip()
        if (mistake := _health_check_the_app_never_passes(app, checks)) is not None:
            raise ProfileError(f"{mistake}\n{details}") from error
        raise ClusterError(f"{error}\n{details}") from error
    after = _clear_volumes(run_on, engine)
    found_again = {(v.node, v.volume) for v in after}  # left alone before the deploy, and after it
    return [v for v in cleared if (v.node, v.volume) not in found_again] + after


def _until_serving(engine: Engine, router: Router, app: AppStack, answers: EntryAnswers) -> None:
    """Wait until the load balancer serves every task of the entry; give up early when every task has answered its
    health check with a status the profile does not accept for ``WRONG_ANSWERS_FOR`` seconds."""
    wrong_since: float | None = None

    def settled() -> str | None:
        nonlocal wrong_since
        if _serving(engine, router, app, answers):
            return "serving"
        if _health_check_the_app_never_passes(app, _health_checks(router)) is None:
            wrong_since = None
            return None
        wrong_since = wrong_since or time.monotonic()
        return "wrong" if time.monotonic() - wrong_since >= WRONG_ANSWERS_FOR else None

    what = f"the load balancer at {app.lb_url} with every task up, answering every probe from release {app.old}"
    if wait_until(settled, timeout=SERVING_TIMEOUT, interval=POLL, what=what) == "wrong":
        raise WaitTimeout(f"gave up waiting for {what}: every task answered its health check with a status not "
                          f"accepted for {WRONG_ANSWERS_FOR:.0f}s")


def _routed_to_blue(router: Router) -> bool:
    """Live traffic routed to blue, confirmed; False while the runtime API does not answer with a route map (a load
    balancer whose configuration changed is being replaced: service-switch's and the other strategies' differ)."""
    try:
        if not router.routes():
            return False
        router.route(BLUE.backend)
    except ClusterError:
        return False
    return True


def _health_checks(router: Router) -> list[HealthCheck]:
    try:
        return router.health_checks(BLUE.backend)
    except HarnessError:
        return []  # the load balancer itself is not answering: the wait's error says so


def _health_check_the_app_never_passes(app: AppStack, checks: list[HealthCheck]) -> str | None:
    """The profile's mistake when every entry task answered the load balancer's health check with a status the
    profile does not accept (it names the wrong page, or status; the cluster is fine); else None."""
    if not checks or not all(c.wrong_answer for c in checks):
        return None
    health = app.profile.model.entry.health
    codes = ", ".join(sorted({c.code for c in checks}))
    return (
        f"{app.profile.path}: entry.health: every task of {app.entry} answers GET {health.path} with {codes}, and the "
        f"health check accepts {', '.join(map(str, health.check.status))} (the load balancer does not follow "
        "redirects); point entry.health.path at a page that answers so without a redirect or a login, or accept "
        "that status in entry.health.check.status")


def _clear_volumes(run_on: RunOn | None, engine: Engine) -> list[StaleVolume]:
    return clear_stale_volumes(run_on, engine) if run_on is not None else []


def _remove_moved(engine: Engine, app: AppStack) -> None:
    """Remove the upgraded services that an earlier run left off ``app.old``: the deploy creates them afresh.

    Rolling them back would stop each old task before its replacement starts
    (Swarm waits 2 s per task for its gossip to converge); a new service starts
    its tasks at once while the removed one's tasks stop beside them.
    """
    for service in app.services():
        try:
            snapshot = engine.service(service)
        except ServiceMissing:
            continue
        if image_version(snapshot.image) != app.old or not snapshot.converged_on(app.old):
            engine.remove_service(service)


def restarting_at_once(rendered: Rendered, services: Iterable[str]) -> Rendered:
    """``rendered`` with ``PREPARE_UPDATE`` as the update config of ``services`` (compose or Kubernetes names)."""
    document = yaml.safe_load(rendered.compose)
    for name in services:
        if name in document["services"]:
            document["services"][name].setdefault("deploy", {})["update_config"] = dict(PREPARE_UPDATE)
    return replace(rendered, compose=yaml.safe_dump(document, sort_keys=False),
                   manifests=manifests.restarting_at_once(rendered.manifests, services))


def _converge(engine: Engine, app: AppStack, timeout: float) -> None:
    for service in app.services():
        wait_until(lambda: _settled_on(engine.service(service), app.old), timeout=timeout,
                   what=f"{app.options.replicas} tasks of {service} running {app.old}", interval=POLL)
    entry = app.services()[0]
    for attempt in range(1, SPREAD_ATTEMPTS + 1):
        if _spread(engine.service(entry), _ready_nodes(engine)):
            return
        # The scheduler may place a restarted task beside another again (start-first
        # updates make that likelier): restart them until they are spread, a few times.
        engine.force_redistribute(entry)
        wait_until(lambda: _settled_on(engine.service(entry), app.old), timeout=timeout, interval=POLL,
                   what=f"the tasks of {entry} restarted on {app.old} (spreading them, attempt {attempt})")
    if not _spread(engine.service(entry), _ready_nodes(engine)):
        raise ClusterError(f"the tasks of {entry} stay on fewer nodes than are ready after {SPREAD_ATTEMPTS} "
                           "restarts; a placement constraint or preference in the compose file may pin them")


def _serving(engine: Engine, router: Router, app: AppStack, answers: EntryAnswers) -> bool:
    """Every running task of the entry service is up in the LB's live backend (its health checks passed), and
    every one of ``PROBES`` health checks through the LB is healthy and served by an old-release task."""
    addresses = releases_by_address(engine.service(app.services()[0]))
    up = {s.address for s in router.servers(BLUE.backend) if s.resolved and s.up}
    if app.options.switch_nodes:  # the servers are the nodes; each answer is from a pod the live Service selects
        return up == {address for _, address in app.options.switch_nodes} and all(
            app.healthy(answers.probe()) for _ in range(PROBES))
    if not addresses or not set(addresses) <= up:
        return False
    probes = [answers.probe() for _ in range(PROBES)]
    return all(app.healthy(p) and served_by(p, addresses) == app.old for p in probes)


class EntryAnswers:
    """The entry's health check through the load balancer, judged by the profile's check, its last answers kept
    for the message of a wait that gives up."""

    def __init__(self, app: AppStack, kept: int = ANSWERS_SHOWN) -> None:
        self._app = app
        self._kept: deque[str] = deque(maxlen=kept)

    def probe(self) -> Probe | None:
        """One health check; None without an answer."""
        health = self._app.profile.model.entry.health
        answer = self._app.client.get(health.path, timeout=PROBE_TIMEOUT)
        why = failure(health.check, answer.status, answer.headers, answer.body) if answer is not None else None
        self._kept.append(answered(answer, why))
        return probe_of(answer, why) if answer is not None else None

    def shown(self) -> str:
        """What the entry answered to the last health checks (asked now when the wait never got to ask)."""
        if not self._kept:
            for _ in range(self._kept.maxlen or 1):
                self.probe()
        health = self._app.profile.model.entry.health
        return "\n".join([f"what the entry answered to GET {health.path} through the load balancer "
                          f"(last {len(self._kept)} health checks):", *(f"  {line}" for line in self._kept)])


def answered(answer: Answer | None, why: str | None) -> str:
    """``302 from 10.0.1.5:8080, Location: /setup, body '...': fails the check (status 302)``."""
    if answer is None:
        return f"no answer within {PROBE_TIMEOUT:g}s"
    parts = [f"{answer.status} from {answer.headers.get(SERVER_HEADER) or 'no server (the load balancer itself)'}"]
    if answer.headers.get("Location"):
        parts.append(f"Location: {answer.headers['Location']}")
    parts += [f"redirected {' -> '.join(answer.redirects)}"] if answer.redirects else []
    cut = f" (the first {BODY_SHOWN} of {len(answer.body)} bytes)" if len(answer.body) > BODY_SHOWN else ""
    parts.append(f"body {one_line(answer.head(BODY_SHOWN), BODY_SHOWN)!r}{cut}" if answer.body else "empty body")
    return ", ".join(parts) + (f": fails the health check ({why})" if why else ": passes the health check")


def _ensure_writes(engine: Engine, app: AppStack, timeout: float) -> None:
    """With a write probe: writes through the LB are acknowledged by every entry task."""
    if app.profile.model.writes is not None and not _writes_work(app):
        _restart_for_writes(engine, app, timeout)


def _restart_for_writes(engine: Engine, app: AppStack, timeout: float) -> None:
    # Seen after faults: the overlay path from other nodes to a stateful service goes
    # stale while its own node still reaches it. Restarting the tasks renews it.
    for service in (*(BLUE.service(s) for s in app.stateful), *app.services()):
        engine.force_redistribute(service)
    entry = app.services()[0]
    wait_until(lambda: _settled_and_spread(engine, entry, app.old) and _writes_work(app), timeout=timeout,
               what="writes through the load balancer to be acknowledged on every entry task", interval=2.0,
               hint=f"The cluster may be degraded by earlier faults: {REBUILD_ADVICE}.")


def _writes_work(app: AppStack) -> bool:
    """Every one of ``WRITE_PROBES`` probe writes is acknowledged (round robin reaches each task)."""
    return all(writes.write(app, f"probe-{uuid.uuid4().hex}").acknowledged for _ in range(WRITE_PROBES))


def diagnose(engine: Engine, app: AppStack, since: float) -> str:
    """The entry service's last task states and log lines: why a stack did not become healthy."""
    service = app.services()[0]
    try:
        tasks = sorted(engine.service(service).tasks, key=lambda t: t.timestamp)[-2 * app.options.replicas:]
        lines = [f"last tasks of {service}:"] + [
            f"  {t.node or '(unplaced)'} {t.version} {t.state} (desired {t.desired_state}){': ' + t.error if t.error else ''}"
            for t in tasks]
        logs = engine.service_logs(service, since).strip().splitlines()[-LOG_LINES:]
        return "\n".join(lines + [f"last log lines of {service}:"] + [f"  {line}" for line in logs or ["(none)"]])
    except HarnessError as error:
        return f"(the state of {service} could not be read: {error})"


def _spread(snapshot: ServiceSnapshot, ready_nodes: int) -> bool:
    """No node has a second task while another ready node has none."""
    per_node = Counter(t.node for t in snapshot.running())
    return len(per_node) >= min(ready_nodes, snapshot.replicas)


def _ready_nodes(engine: Engine) -> int:
    return len([n for n in engine.nodes() if n.state == "ready"])


def _settled_and_spread(engine: Engine, service: str, version: str) -> bool:
    snapshot = engine.service(service)
    return _settled_on(snapshot, version) and _spread(snapshot, _ready_nodes(engine))


def _settled_on(snapshot: ServiceSnapshot, version: str) -> bool:
    return snapshot.settled and snapshot.converged_on(version)


def forget_image(nodes: Iterable[str], run_on: RunOn, images: Iterable[str], runtime: NodeRuntime) -> None:
    """Delete ``images`` on every node (``runtime.forget``) so that the upgrade must pull them from the registry."""
    argv = ["sh", "-c", runtime.forget, "forget", *images]
    with ThreadPoolExecutor() as pool:  # every node at once; the first node that failed raises
        list(pool.map(lambda node: run_on(node, argv), nodes))


def census(run_on: RunOn, nodes: Iterable[str], service: str, runtime: NodeRuntime) -> dict[str, dict | None]:
    """Releases each node really runs for ``service``: containers whose processes are alive, by image tag.

    Read from the runtime's files and the kernel (``runtime.census``), so it works for any image and while a
    node's engine is frozen. A node that cannot be asked (halted) maps to None.
    """
    found: dict[str, dict | None] = {}
    for node in nodes:
        try:
            result = run_on(node, ["sh", "-c", runtime.census, "census", service])
        except HarnessError:
            found[node] = None
            continue
        found[node] = dict(Counter(image_version(i) for i in result.output.split())) if result.ok else None
    return found
