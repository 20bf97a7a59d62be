"""The load balancer's routing, read and changed through HAProxy's runtime API.

``routes.map`` in the LB image maps ``live`` and ``preview`` to a backend
(``blue`` or ``green``). Flipping an entry with ``set map`` changes where the
next request goes, atomically and without a reload.
"""

from __future__ import annotations

import csv
import socket
from dataclasses import dataclass

from harness.errors import ClusterError

ROUTES_MAP = "/etc/haproxy/routes.map"
PREVIEW_HEADER = {"X-Chaos-Route": "preview"}
BACKENDS = ("blue", "green")

# Fields of `show servers state <backend>` (HAProxy 2.x, format 1).
_BACKEND, _NAME, _ADDRESS, _OP_STATE, _ADMIN_STATE = 1, 3, 4, 5, 6
_RUNNING = "2"
_MAINTENANCE = 0x01  # admin state bit: put in maintenance through the runtime API
_UNRESOLVED = 0x20  # admin state bit: no DNS record for this slot


@dataclass(frozen=True)
class Server:
    """One server slot of a backend as HAProxy sees it."""

    address: str
    up: bool
    resolved: bool
    backend: str = ""
    name: str = ""
    maintenance: bool = False  # put in maintenance through the runtime API

    @property
    def slot(self) -> str:
        """``backend/name``, as runtime API commands name it."""
        return f"{self.backend}/{self.name}"


def parse_servers(answer: str) -> list[Server]:
    """The server slots in the answer to `show servers state [backend]`."""
    servers = []
    for fields in (line.split() for line in answer.splitlines() if not line.startswith("#")):
        if len(fields) <= _ADMIN_STATE:
            continue  # the format version, a blank line
        admin = int(fields[_ADMIN_STATE])
        resolved = fields[_ADDRESS] not in ("-", "0.0.0.0") and not admin & _UNRESOLVED
        servers.append(Server(fields[_ADDRESS], fields[_OP_STATE] == _RUNNING, resolved, fields[_BACKEND],
                              fields[_NAME], bool(admin & _MAINTENANCE)))
    return servers


@dataclass(frozen=True)
class HealthCheck:
    """HAProxy's last health check of one server: its status (``L7OK``, ``L7STS`` for a status it does not
    accept, ``L4CON`` for a refused connection, ...), the HTTP code, and HAProxy's words."""

    server: str
    status: str
    code: str
    detail: str

    @property
    def wrong_answer(self) -> bool:
        """The task answered, with a status the health check does not accept."""
        return self.status == "L7STS" and self.code.isdigit()

    def __str__(self) -> str:
        return f"{self.server}: {self.status}{' ' + self.code if self.code else ''} {self.detail}".rstrip()


class Router:
    """Talks to HAProxy's runtime API on the host port the cluster maps to it."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 3.0) -> None:
        self._address = (host, port)
        self._timeout = timeout

    def command(self, line: str) -> str:
        """Send one runtime API command and return its whole answer."""
        try:
            with socket.create_connection(self._address, timeout=self._timeout) as connection:
                connection.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
        except OSError as error:
            raise ClusterError(f"HAProxy's runtime API at {self._address[0]}:{self._address[1]} did not answer "
                               f"`{line}`: {error}") from error
        return b"".join(chunks).decode()

    def routes(self) -> dict[str, str]:
        """The route map: ``{"live": "blue", "preview": "green"}``."""
        entries = (line.split() for line in self.command(f"show map {ROUTES_MAP}").splitlines())
        return {fields[1]: fields[2] for fields in entries if len(fields) == 3}

    def route(self, live: str) -> None:
        """Send live traffic to ``live`` and the preview route to the other backend; confirmed by reading back."""
        if live not in BACKENDS:
            raise ValueError(f"unknown backend {live!r}; known: {', '.join(BACKENDS)}")
        preview = next(b for b in BACKENDS if b != live)
        for key, backend in (("live", live), ("preview", preview)):
            answer = self.command(f"set map {ROUTES_MAP} {key} {backend}").strip()
            if answer:
                raise ClusterError(f"HAProxy refused to route {key} to {backend}: {answer}")
        routes = self.routes()
        if routes.get("live") != live or routes.get("preview") != preview:
            raise ClusterError(f"HAProxy's route map reads {routes} after routing live traffic to {live}")

    def servers(self, backend: str) -> list[Server]:
        """Every server slot of ``backend``."""
        return parse_servers(self.command(f"show servers state {backend}"))

    def health_checks(self, backend: str) -> list[HealthCheck]:
        """The last health check of each resolved server of ``backend``, as HAProxy's statistics give it."""
        rows = csv.DictReader(self.command("show stat").removeprefix("# ").splitlines())
        return [HealthCheck(row["svname"], row.get("check_status") or "", row.get("check_code") or "",
                            row.get("check_desc") or row.get("last_chk") or "")
                for row in rows if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")
                and row.get("check_status")]

    def healthy(self, backend: str) -> int:
        """How many resolved servers of ``backend`` pass their health checks."""
        return sum(1 for s in self.servers(backend) if s.resolved and s.up)
