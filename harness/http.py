"""The one configured HTTP client the harness uses for its own requests (probes, read-back, registries).

Requests go to loopback or to addresses of containers the harness made;
every one has a timeout, and connection failures become ``None`` answers or
harness errors, never tracebacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

DEFAULT_TIMEOUT = 2.0
CONNECTIONS = 32  # kept open per host: as many as threads that share one client (the read-back's workers)


@dataclass(frozen=True)
class Answer:
    """Status, headers (looked up without regard to case) and body of one response."""

    status: int
    headers: Mapping[str, str] = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""


class HttpClient:
    """Requests against one base URL, each with a timeout; ``None`` when no answer came."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment: targets are local
        self._session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=CONNECTIONS))

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | str | None = None,
                timeout: float | None = None) -> Answer | None:
        """One request; ``None`` when the connection failed or timed out."""
        try:
            response = self._session.request(method, f"{self.base_url}{path}", headers=headers, data=body,
                                             timeout=timeout or self.timeout, allow_redirects=False)
        except requests.RequestException:
            return None
        return Answer(response.status_code, response.headers, response.content)

    def get(self, path: str, **options) -> Answer | None:
        return self.request("GET", path, **options)
