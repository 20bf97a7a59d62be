"""Refusal outages made from the harness's own process through HAProxy's runtime API, each call stamped.

The live route is pointed at a backend that does not exist, so the load
balancer answers every request with 503 at once, and then back. Each edge is
one runtime API call with ``time.time()`` (the samples' clock) read just
before and just after it: the edge lies between the two stamps, and no
process start or exec into a node comes between them. Before each outage
the load balancer's node is given the route back on a timer (``timer``), so
an outage whose harness was killed ends by itself ``GRACE`` after its planned
end. Each outage routes to a backend name of its own, and its timer routes
back only while that name is live, so a timer never ends a later outage.
"""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Protocol

from harness.errors import ClusterError
from harness.faults.balancer import RUNTIME_API
from harness.stack.router import ROUTES_MAP

NOWHERE = "nowhere"  # the prefix of backend names the load balancer does not have: it answers 503 at once
GRACE = 5.0  # seconds after a planned outage end when the node's timer ends it, if the harness has not
SETTLE = 0.5  # seconds between starting the timer and the outage: the exec that starts it takes the machine's
              # CPU for a moment, which delays the load's requests just as the outage would start
Stamps = tuple[float, float, float, float]  # before and after the call that starts, then the one that ends


class RuntimeApi(Protocol):
    """HAProxy's runtime API (``Router``)."""

    def command(self, line: str) -> str:
        """Send one command line and return its whole answer."""
        ...

    def routes(self) -> dict[str, str]:
        """The route map: ``{"live": "blue", "preview": "green"}``."""
        ...


def live_route(backend: str) -> str:
    """The runtime API line that routes live traffic to ``backend``."""
    return f"set map {ROUTES_MAP} live {backend}"


def timer(away: str, back: str, seconds: float) -> list[str]:
    """The command, run on the load balancer's node, that in ``seconds`` routes live traffic to ``back`` if it
    still goes to ``away``: it returns at once, and its process of its own outlives the harness."""
    api = shlex.join(RUNTIME_API)
    still_away = f"echo {shlex.quote(f'show map {ROUTES_MAP}')} | {api} | grep -q {shlex.quote(f' live {away}$')}"
    send = f"sleep {seconds:.3f}; {still_away} && echo {shlex.quote(live_route(back))} | {api}"
    return ["sh", "-c", f"({send}) </dev/null >/dev/null 2>&1 &"]


class Refusal:
    """Outages of the live route, each ended by this process or, ``grace`` after its planned end, by its timer,
    which ``arm`` runs on the load balancer's node."""

    def __init__(self, api: RuntimeApi, arm: Callable[[list[str]], None], grace: float = GRACE,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self._api, self._arm, self._grace = api, arm, grace
        self._clock, self._sleep = clock, sleep

    def hold(self, duration: float) -> Stamps:
        """Refuse for ``duration``: the ending call is sent ``duration`` after the starting one was (so, calls
        taking as long as each other, their middles are ``duration`` apart); both calls' stamps."""
        live = self._live()
        away, deadline = self._armed(live, duration)
        back = live_route(live)
        before, after = self._stamped(live_route(away))
        try:
            self._sleep(max(0.0, before + duration - self._clock()))
            ended = self._stamped(back)
        except BaseException:
            with suppress(ClusterError):  # interrupted or failed mid-outage: end it now, else the timer will
                self._api.command(back)
            raise
        if ended[0] >= deadline:
            raise ClusterError(f"a refusal outage's end was sent over {self._grace:g}s late, so its timer may have "
                               "ended it first: the machine stalled; calibrate on a less loaded one")
        return before, after, *ended

    def _armed(self, live: str, duration: float) -> tuple[str, float]:
        """A backend name of the outage's own, its timer started ``SETTLE`` ago, and the time before which the
        timer cannot fire."""
        away, seconds = f"{NOWHERE}-{uuid.uuid4().hex[:8]}", SETTLE + duration + self._grace
        deadline = self._clock() + seconds  # read before the timer starts, so it fires later
        self._arm(timer(away, live, seconds))
        self._sleep(SETTLE)
        return away, deadline

    def _live(self) -> str:
        """The backend live traffic goes to now."""
        live = self._api.routes().get("live")
        if live is None or live.startswith(NOWHERE):
            raise ClusterError(f"the load balancer's live route is {live!r}, not a backend; deploy the app first")
        return live

    def _stamped(self, line: str) -> tuple[float, float]:
        """The clock just before and just after one runtime API call; HAProxy's refusal raised."""
        before = self._clock()
        answer = self._api.command(line)
        after = self._clock()
        if answer.strip():
            raise ClusterError(f"HAProxy's runtime API refused `{line}`: {answer.strip()[-300:]}")
        return before, after
