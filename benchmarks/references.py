"""Public figures to set beside ours, each with its source, and the ratio ours / theirs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    what: str
    theirs: str
    value: float | None  # None: no public figure to divide by
    source: str
    ours: Callable[[dict], float | None]  # from the benchmarks' figures
    unit: str


def _load_at(figures: dict, rate: float) -> dict | None:
    return next((f for f in figures.get("load", []) if f["rate"] == rate), None)


def _locust_per_core(figures: dict) -> float | None:
    load = _load_at(figures, 1000.0)
    return load["achieved"] / load["cores"]["load"] if load and load["cores"].get("load") else None


def _lb_per_core(figures: dict) -> float | None:
    load = _load_at(figures, 1000.0)
    used = load and next((v for k, v in load["cores"].items() if k.endswith("harness-lb")), None)
    return load["achieved"] / used if used else None


def _up_3(figures: dict) -> float | None:
    return next((f["up_cold"] for f in figures.get("sizes", []) if f["nodes"] == 3), None)


def _per_node(figures: dict) -> float | None:
    return next((f["per_node_mb"] for f in figures.get("sizes", []) if f["nodes"] == 3), None)


def _fault(kind: str, field: str) -> Callable[[dict], float | None]:
    return lambda figures: next((f[field] for f in figures.get("faults", []) if f["kind"] == kind), None)


REFERENCES = (
    Reference("Locust requests/s per core (FastHttpUser)", "about 16,000 (best case: small requests in a loop)",
              16000.0, "docs.locust.io, *Increase performance* (2.16 and later)", _locust_per_core,
              "req/s per core (ours records every request and keeps an open schedule)"),
    Reference("HAProxy requests/s per core", "about 129,000 (1.03 M on an 8-core Xeon W-2145)", 129000.0,
              "haproxy.com blog, *HAProxy forwards over 2 million HTTP requests per second*", _lb_per_core,
              "req/s per core (ours: inside a node container)"),
    Reference("cluster start", "kind single-node `kind create cluster`: 12.5-17.1 s", 17.1,
              "kubernetes-sigs/kind issue 2893", _up_3, "s for 3 nodes with swarm, registry and Toxiproxy"),
    Reference("Swarm marks a stopped node Down", "10-16.5 s after it stops (heartbeat 5 s ± 0.5 s, grace x3)",
              16.5, "moby/swarmkit manager/dispatcher (DefaultHeartBeatPeriod, defaultGracePeriodMultiplier)",
              _fault("node-halt", "effect_after"), "s from node-halt to Down"),
    Reference("idle Docker engine memory", "dockerd about 57 MB resident", 57.0,
              "forums.docker.com, *Docker memory usage* (18.09)", _per_node,
              "MB per node (its whole container; registries shared out)"),
    Reference("network fault injection", "Pumba (tc/iptables in a helper container): no published figure", None,
              "alexei-led/pumba docs/network-chaos.md", _fault("partition", "inject_took"),
              "s for the partition fault's own inject"),
)


def reference_rows(figures: dict) -> list[str]:
    """A Markdown table: what, the public figure and its source, ours, and ours / theirs."""
    rows = ["| what | public figure | source | ours | ours / theirs |", "|---|---|---|---|---|"]
    for ref in REFERENCES:
        ours = ref.ours(figures)
        shown = "-" if ours is None else f"{ours:,.1f} {ref.unit}"
        ratio = "-" if ours is None or ref.value is None else f"{ours / ref.value:.2f}"
        rows.append(f"| {ref.what} | {ref.theirs} | {ref.source} | {shown} | {ratio} |")
    return rows
