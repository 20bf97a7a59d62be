"""Which pod answered a request the load balancer sent to a node's NodePort, without the app's help.

Under service-switch the load balancer connects to a node's address and the live Service's NodePort; that node's
kube-proxy picks a pod and translates the connection. The load balancer names only what it connected to
(``X-Chaos-Server``) and where from (``X-Chaos-Source``, its own address and port). Each node's connection
tracking (``conntrack -E -e NEW``) names, for every new connection, that original tuple and the reply's source:
the pod that answered. A request is joined to the latest new connection from the same source port to the same
node address and port that started before the request ended (a port is reused by later connections; a
connection kept alive keeps the pod it was translated to, whatever the Service selects since). conntrack stamps
an event when it reads it, which can be after the request it carried ended (up to 80 ms was seen on a busy
2-core machine): ``EVENT_LAG`` is allowed for that.

The join gives each sample the pod's address as its server, which ``harness.analysis.attribution`` maps to the
pod's release as for any other run.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.analysis.attribution import address_holders
from harness.analysis.samples import Sample
from harness.journal import Event
from harness.jsonl import read_jsonl

# `conntrack -E -e NEW -o timestamp,id`: "[1733440000.123456]	[NEW] tcp 6 120 SYN_SENT src=A dst=B sport=P
# dport=Q [UNREPLIED] src=C dst=D sport=R dport=S id=N"; the first src/dst/sport/dport are the original tuple,
# the second the reply's. A connection there before the trace began is a line of `conntrack -L` the trace stamped
# "[<time of the listing>] [EXISTING] ".
_EVENT = re.compile(r"^\s*\[(?P<t>\d+\.\d+)\]\s+\[(NEW|EXISTING)\]\s+tcp\b(?P<rest>.*)$")
_FIELD = re.compile(r"\b(src|dst|sport|dport)=(\S+)")
EVENT_LAG = 1.0  # seconds a connection's event may be stamped after a request on it ended (a port is not reused
#                  so soon)


@dataclass(frozen=True)
class Translation:
    """One new connection a node translated: when, from where, to which node address:port, and who answers."""

    t: float  # epoch seconds, the node's clock (the host's, for node containers)
    node: str
    source: str  # address:port the connection came from
    target: str  # address:port it was sent to (the node's address and the NodePort)
    server: str  # address:port the reply comes from (the pod)

    def record(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, record: dict) -> Translation:
        """A line of ``CONNECTIONS_FILE`` as ``record`` wrote it; TypeError naming the key of a wrong type."""
        found = cls(**record)
        if isinstance(found.t, bool) or not isinstance(found.t, (int, float)):
            raise TypeError(f"t: got {found.t!r}; a time in epoch seconds")
        for key in ("node", "source", "target", "server"):
            if not isinstance(getattr(found, key), str):
                raise TypeError(f"{key}: got {getattr(found, key)!r}; text")
        return found


def parse_events(text: str, node: str) -> list[Translation]:
    """The new TCP connections in ``conntrack -E`` output (and those listed as there before) that the node translated
    (their reply comes from elsewhere than they were sent to); other lines (a connection merely passing through,
    the tool's own notes) are left out."""
    found = []
    for line in text.splitlines():
        match = _EVENT.match(line)
        if match is None:
            continue
        fields = _FIELD.findall(match["rest"])
        if len(fields) < 8:
            continue
        original, reply = dict(fields[:4]), dict(fields[4:8])
        target = f"{original['dst']}:{original['dport']}"
        server = f"{reply['src']}:{reply['sport']}"
        if server != target:
            found.append(Translation(float(match["t"]), node, f"{original['src']}:{original['sport']}", target,
                                     server))
    return found


class Translations:
    """Every translation, looked up by the node address:port a connection was sent to and its source port."""

    def __init__(self, translations: Iterable[Translation]) -> None:
        self._by_key: dict[tuple[str, str], list[Translation]] = {}
        for translation in sorted(translations, key=lambda t: t.t):
            self._by_key.setdefault((translation.target, _port(translation.source)), []).append(translation)
        self._times = {key: [t.t for t in found] for key, found in self._by_key.items()}

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def server(self, target: str, source: str, before: float) -> str | None:
        """The pod address:port that answered a connection from ``source`` (its port) to ``target``, opened last
        before ``before``; None when no node tracked one."""
        key = (target, _port(source))
        index = bisect.bisect_right(self._times.get(key, []), before) - 1
        return self._by_key[key][index].server if index >= 0 else None


def translated(samples: Iterable[Sample], translations: Translations) -> Iterator[Sample]:
    """The samples, each sent to a NodePort with its server replaced by the pod that answered (as far as the nodes'
    connection tracking tells); the others as they are."""
    for sample in samples:
        if translations and sample.server and sample.source:
            server = translations.server(sample.server, sample.source, sample.end + EVENT_LAG)
            if server is not None:
                sample = sample._replace(server=server)
        yield sample


def read_translations(path: Path, notes: list[str] | None = None) -> list[Translation]:
    """The translations a run recorded (``CONNECTIONS_FILE``); none without the file (no strategy traced)."""
    return read_jsonl(path, Translation.of, notes) if path.exists() else []


def node_propagation(translations: Iterable[Translation], events: list[Event], switched: float, old: str,
                     new: str) -> dict[str, dict[str, float | None]]:
    """Per node, seconds after the switch's request (``switched``) of the last new connection it translated to a pod
    of ``old`` and the first to a pod of ``new``: when its kube-proxy followed the switch, whatever connections
    kept alive did (None where it translated none). A pod's release is its task's at the time
    (``attribution.address_holders``)."""
    holders = address_holders(events)
    found: dict[str, dict[str, float | None]] = {}
    for translation in sorted(translations, key=lambda t: t.t):
        seen = found.setdefault(translation.node, {"last_old": None, "first_new": None})
        if translation.t < switched:
            continue
        known = holders.get(translation.server.rsplit(":", 1)[0], [])
        holder = next((h for h in reversed(known) if h.since <= translation.t), known[0] if known else None)
        version = holder.version if holder else None
        if version == old:
            seen["last_old"] = translation.t - switched
        elif version == new and seen["first_new"] is None:
            seen["first_new"] = translation.t - switched
    return dict(sorted(found.items()))


def kept_alive(samples: Iterable[Sample], translations: Iterable[Translation], switched: float) -> dict[str, int]:
    """Per release, the answers after the switch's request (``switched``) that came on a connection opened before
    it: what kept-alive connections served whatever the Service selected since (attributed samples: their server is
    the pod)."""
    opened: dict[tuple[str, str], list[float]] = {}
    for translation in sorted(translations, key=lambda t: t.t):
        opened.setdefault((translation.server, _port(translation.source)), []).append(translation.t)
    found: dict[str, int] = {}
    for sample in samples:
        if sample.t < switched or not (sample.ok and sample.version and sample.server and sample.source):
            continue
        times = opened.get((sample.server, _port(sample.source)), [])
        index = bisect.bisect_right(times, sample.end + EVENT_LAG) - 1
        if index >= 0 and times[index] < switched:
            found[sample.version] = found.get(sample.version, 0) + 1
    return dict(sorted(found.items()))


def _port(address: str) -> str:
    return address.rsplit(":", 1)[-1]
