"""Which release served each request, without the app's help.

The load balancer names the server address that answered (``X-Chaos-Server``);
the journal holds every task the engine reported, with its addresses, node
and image. An address belongs to the most recent task seen with it at the
time of the request (addresses are reused by later tasks).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from harness.analysis.samples import Sample
from harness.journal import Event

ENDED = ("complete", "shutdown", "failed", "rejected", "orphaned", "remove")  # a task that no longer serves


@dataclass(frozen=True)
class Holder:
    """A task that held an address from ``since``."""

    since: float
    version: str
    node: str
    task: str


def address_holders(events: list[Event]) -> dict[str, list[Holder]]:
    """Address -> the tasks that held it, in the order the engine reported them."""
    holders: dict[str, list[Holder]] = {}
    for event in events:
        if event.type != "engine.task" or event.get("state") in ENDED:
            continue  # an ended task gives its address back; it never takes it from a successor
        for address in event.get("addresses") or []:
            known = holders.setdefault(address, [])
            if not known or known[-1].task != event.get("task"):
                known.append(Holder(event.t, event.get("version"), event.get("node"), event.get("task")))
    return holders


def attribute(samples: Iterable[Sample], events: list[Event]) -> list[Sample]:
    """The samples, in their order, with ``version``, ``node`` and ``task`` of the task that served them (None if
    unknown); taken one at a time, so that samples still being read are never held twice."""
    holders = address_holders(events)
    since = {address: [h.since for h in known] for address, known in holders.items()}
    return [_attributed(sample, holders, since) for sample in samples]


def _attributed(sample: Sample, holders: dict[str, list[Holder]], since: dict[str, list[float]]) -> Sample:
    address = sample.server.rsplit(":", 1)[0] if sample.server else None
    if address not in holders:
        return sample
    index = bisect.bisect_right(since[address], sample.t) - 1
    holder = holders[address][max(index, 0)]  # a task seen only after the request started: the first one known
    return sample.served_by(holder.version, holder.node, holder.task)
