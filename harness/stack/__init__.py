"""The system under test on the cluster: the user's stack (an app profile), deployed, reachable and checked.

Which release served a request comes from the load balancer (the server
address it names in ``X-Chaos-Server``) and the engine (which task had that
address, running which image); the app does not have to say anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from harness.app.profile import Profile, Request
from harness.checks import failure, substitute
from harness.engine.base import ServiceSnapshot
from harness.http import Answer, HttpClient
from harness.stack import compose, manifests
from harness.stack.compose import GREEN_STACK, LB_SERVICE_NAME, STACK_NAME, Rendered, StackOptions
from harness.stack.router import PREVIEW_HEADER, Router

SERVER_HEADER = "X-Chaos-Server"
BACKEND_HEADER = "X-Chaos-Backend"
PROBES = 10
WRITE_PROBES = 12


@dataclass(frozen=True)
class StackSlot:
    """One of the two stacks a blue-green upgrade moves between, and its load balancer backend."""

    backend: str
    stack: str
    suffix: str = ""  # of each service's name: green's beside blue's in one stack (service-switch)

    def service(self, name: str) -> str:
        """The engine's name of a compose service in this stack."""
        return f"{self.stack}_{name}{self.suffix}"


BLUE = StackSlot("blue", STACK_NAME)  # the whole stack and the load balancer; serves unless a switch moved traffic
GREEN = StackSlot("green", GREEN_STACK)  # the upgraded services only, beside blue, on blue's networks
# service-switch's green: the upgraded Deployments <name>-green in blue's own namespace (a Service selects the pods
# of its namespace only)
SWITCH_GREEN = StackSlot("green", STACK_NAME, compose.SWITCH_SUFFIX)
SLOTS = (BLUE, GREEN, SWITCH_GREEN)
LB_SERVICE = BLUE.service(LB_SERVICE_NAME)


@dataclass(frozen=True)
class Probe:
    """One request through the load balancer: its status and who answered."""

    status: int
    backend: str | None
    server: str | None  # address:port of the task that answered
    reason: str | None = None  # why the answer failed the health check (its status aside)

    @property
    def address(self) -> str | None:
        """The address of the task that answered, without its port."""
        return self.server.rsplit(":", 1)[0] if self.server else None


@dataclass(frozen=True)
class AppStack:
    """An app profile on the cluster, with the scenario's options and the releases it moves between."""

    profile: Profile
    options: StackOptions
    lb_url: str
    old: str
    new: str

    @property
    def entry(self) -> str:
        """The compose name of the service clients reach."""
        return self.profile.model.entry.service

    @property
    def upgraded(self) -> tuple[str, ...]:
        return self.profile.upgraded

    @property
    def stateful(self) -> tuple[str, ...]:
        return tuple(self.profile.model.stateful)

    def services(self, slot: StackSlot = BLUE) -> tuple[str, ...]:
        """The engine's names of the upgraded services in ``slot``, the entry first."""
        ordered = (self.entry, *(s for s in self.upgraded if s != self.entry))
        return tuple(slot.service(s) for s in ordered)

    def blue(self, release: str) -> Rendered:
        return self._form.blue(self.profile, release, self.options)

    def green(self, release: str, publish: int | None = None) -> Rendered:
        return self._form.green(self.profile, release, self.options, publish)

    def switch_green(self, publish: int | None = None) -> Rendered:
        """Blue at ``old`` as deployed, with the upgraded Deployments at ``new`` beside it as ``<name>-green``
        (service-switch; the app's Kubernetes objects only)."""
        return manifests.switch_green(self.profile, self.old, self.new, self.options, publish)

    @property
    def _form(self):
        """What renders the stack: ``harness.stack.compose`` or ``harness.stack.manifests``."""
        return manifests if self.options.form == "kubernetes" else compose

    def image(self, service: str, release: str) -> str:
        """What the nodes pull for an upgraded compose service at ``release``."""
        return compose.image_ref(self.options, self.profile.name, service, release)

    @cached_property
    def client(self) -> HttpClient:
        return HttpClient(self.lb_url)

    def probe(self, preview: bool = False, timeout: float = 1.0) -> Probe | None:
        """A health-check request through the load balancer (its preview route), judged by the profile's health
        check; None without an answer."""
        health = self.profile.model.entry.health
        answer = self.client.get(health.path, headers=PREVIEW_HEADER if preview else None, timeout=timeout)
        return probe_of(answer, failure(health.check, answer.status, answer.headers, answer.body)) if answer else None

    def healthy(self, probe: Probe | None) -> bool:
        """Whether a health-check answer passes the profile's health check."""
        return probe is not None and probe.reason is None and self.profile.model.entry.health.check.accepts(probe.status)

    def send(self, request: Request, values: Mapping[str, str] = {}, timeout: float | None = None) -> Answer | None:
        """One of the profile's requests through the load balancer, ``{id}`` and ``{captured.NAME}`` replaced by
        ``values``; redirects followed when its check says so."""
        body = substitute(request.body, values) if request.body is not None else None
        headers = {name: substitute(value, values) for name, value in request.headers.items()}
        return self.client.request(request.method, substitute(request.path, values), headers=headers or None,
                                   body=body, timeout=timeout, follow_redirects=request.check.follow_redirects)


def probe_of(answer: Answer, reason: str | None = None) -> Probe:
    """Status, backend and server of an answer that came through the load balancer, and why it failed its check."""
    return Probe(answer.status, answer.headers.get(BACKEND_HEADER), answer.headers.get(SERVER_HEADER), reason)


def releases_by_address(snapshot: ServiceSnapshot) -> dict[str, str]:
    """Task address -> release (image tag) of the service's running tasks."""
    return {address: t.version for t in snapshot.running() for address in t.addresses}


def served_by(probe: Probe | None, addresses: dict[str, str]) -> str | None:
    """The release of the task that answered ``probe``, from the engine's task addresses."""
    return addresses.get(probe.address) if probe is not None and probe.address else None


def router(address: tuple[str, int]) -> Router:
    """The runtime API of the cluster's load balancer at ``(host, port)``."""
    host, port = address
    return Router(port, host)
