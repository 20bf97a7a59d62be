"""The system under test on the cluster: the user's stack (an app profile), deployed, reachable and checked.

Which release served a request comes from the load balancer (the server
address it names in ``X-Chaos-Server``) and the engine (which task had that
address, running which image); the app does not have to say anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from harness.app.profile import WRITE_ID, Profile, Request
from harness.engine.base import ServiceSnapshot
from harness.http import Answer, HttpClient
from harness.stack import compose
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

    def service(self, name: str) -> str:
        """The engine's name of a compose service in this stack."""
        return f"{self.stack}_{name}"


BLUE = StackSlot("blue", STACK_NAME)  # the whole stack and the load balancer; serves unless a switch moved traffic
GREEN = StackSlot("green", GREEN_STACK)  # the upgraded services only, beside blue, on blue's networks
LB_SERVICE = BLUE.service(LB_SERVICE_NAME)


@dataclass(frozen=True)
class Probe:
    """One request through the load balancer: its status and who answered."""

    status: int
    backend: str | None
    server: str | None  # address:port of the task that answered

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
        return compose.blue(self.profile, release, self.options)

    def green(self, release: str, publish: int | None = None) -> Rendered:
        return compose.green(self.profile, release, self.options, publish)

    def image(self, service: str, release: str) -> str:
        """What the nodes pull for an upgraded compose service at ``release``."""
        return compose.image_ref(self.options, self.profile.name, service, release)

    @cached_property
    def client(self) -> HttpClient:
        return HttpClient(self.lb_url)

    def probe(self, preview: bool = False, timeout: float = 1.0) -> Probe | None:
        """A health-check request through the load balancer (its preview route); None without an answer."""
        answer = self.client.get(self.profile.model.entry.health.path, headers=PREVIEW_HEADER if preview else None,
                                 timeout=timeout)
        return probe_of(answer) if answer else None

    def healthy(self, probe: Probe | None) -> bool:
        return probe is not None and probe.status in self.profile.model.entry.health.status

    def write(self, write_id: str) -> bool:
        """One acknowledged write through the load balancer (False when there is no write probe)."""
        writes = self.profile.model.writes
        return writes is not None and _accepted(self.send(writes.write, write_id), writes.write)

    def read_back(self, write_id: str) -> bool | None:
        """Whether an acknowledged write reads back; None when no answer came (unknown, not lost)."""
        writes = self.profile.model.writes
        if writes is None:
            return None
        answer = self.send(writes.read, write_id, timeout=3.0)
        return None if answer is None or answer.status >= 500 else _accepted(answer, writes.read)

    def send(self, request: Request, write_id: str = "", timeout: float | None = None) -> Answer | None:
        """One of the profile's requests through the load balancer, ``{id}`` replaced by ``write_id``."""
        body = request.body.replace(WRITE_ID, write_id) if request.body is not None else None
        return self.client.request(request.method, request.path.replace(WRITE_ID, write_id),
                                   headers=request.headers or None, body=body, timeout=timeout)


def _accepted(answer: Answer | None, request: Request) -> bool:
    if answer is None:
        return False
    return answer.status in request.status if request.status else 200 <= answer.status < 400


def probe_of(answer: Answer) -> Probe:
    """Status, backend and server of an answer that came through the load balancer."""
    return Probe(answer.status, answer.headers.get(BACKEND_HEADER), answer.headers.get(SERVER_HEADER))


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
