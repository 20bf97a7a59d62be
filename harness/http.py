"""The one configured HTTP client the harness uses for its own requests (probes, read-back, registries).

Requests go to loopback or to addresses of containers the harness made;
every one has a timeout, and connection failures become ``None`` answers or
harness errors, never tracebacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

DEFAULT_TIMEOUT = 2.0
MAX_REDIRECTS = 10
CONNECTIONS = 32  # kept open per host: as many as threads that share one client (the read-back's workers)


@dataclass(frozen=True)
class Answer:
    """Status, headers (looked up without regard to case) and body of one response."""

    status: int
    headers: Mapping[str, str] = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""
    redirects: tuple[str, ...] = ()  # "302 /setup" for each redirect followed on the way

    def head(self, size: int = 200) -> str:
        """The first ``size`` bytes of the body as text, for a record or an error message."""
        return self.body[:size].decode("utf-8", "replace")


class HttpClient:
    """Requests against one base URL, each with a timeout; ``None`` when no answer came."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment: targets are local
        self._session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=CONNECTIONS))

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | str | None = None,
                timeout: float | None = None, follow_redirects: bool = False) -> Answer | None:
        """One request; ``None`` when the connection failed or timed out. Redirects are followed only when
        asked, at most ``MAX_REDIRECTS``, and only to the same host (``same_host_redirect``)."""
        answer = self._once(method, path, headers, body, timeout)
        redirects: list[str] = []
        while follow_redirects and answer is not None and len(redirects) < MAX_REDIRECTS:
            target = same_host_redirect(self.base_url, path, answer.status, answer.headers.get("Location"))
            if target is None:
                break
            redirects.append(f"{answer.status} {target}")
            method, path, body = ("GET", target, None) if answer.status in (301, 302, 303) else (method, target, body)
            answer = self._once(method, path, headers, body, timeout)
        return replace(answer, redirects=tuple(redirects)) if answer is not None and redirects else answer

    def _once(self, method: str, path: str, headers: dict[str, str] | None, body: bytes | str | None,
              timeout: float | None) -> Answer | None:
        try:
            response = self._session.request(method, f"{self.base_url}{path}", headers=headers, data=body,
                                             timeout=timeout or self.timeout, allow_redirects=False)
        except requests.RequestException:
            return None
        return Answer(response.status_code, response.headers, response.content)

    def get(self, path: str, **options) -> Answer | None:
        return self.request("GET", path, **options)


def same_host_redirect(base_url: str, path: str, status: int, location: str | None) -> str | None:
    """The path an answer to ``path`` redirects to on the same host, or None (not a redirect, or another host:
    the harness sends requests only to what it made). Used by the load process too."""
    if not 300 <= status < 400 or not location:
        return None
    target = urlsplit(urljoin(f"{base_url}{path}", location))
    if target.netloc != urlsplit(base_url).netloc:
        return None
    return target.path + (f"?{target.query}" if target.query else "")
