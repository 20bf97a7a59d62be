"""Cluster up from nothing and again when it is up, and the memory it holds, for several node counts.

    .venv/bin/python -m benchmarks.cluster_sizes [--engine swarm|kubernetes] [--json FILE] [NODES ...]
                                                                                          (default: 3 5 7)

Each size gets a cluster of its own (``bench-<engine>-N``): ``cluster up`` from
nothing (images already built by ``chaos-harness setup``), ``cluster up``
again on the running cluster (the warm path every command takes), the
memory its containers hold once up (no app deployed), then ``down``. Prints
a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.cluster import Cluster, ClusterConfig

from benchmarks.usage import cluster_memory

MB = 2 ** 20


def measure(nodes: int, engine: str = "swarm") -> dict[str, float]:
    cluster = Cluster(ClusterConfig(name=f"bench-{engine}-{nodes}", nodes=nodes, engine=engine))
    cluster.down()  # a leftover of an interrupted benchmark
    try:
        started = time.monotonic()
        cluster.up()
        cold = time.monotonic() - started
        started = time.monotonic()
        cluster.up()
        warm = time.monotonic() - started
        time.sleep(10)  # the engines settle after forming the cluster
        memory = cluster_memory(cluster) / MB
    finally:
        cluster.down()
    return {"nodes": nodes, "up_cold": cold, "up_warm": warm, "memory_mb": memory, "per_node_mb": memory / nodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nodes", nargs="*", type=int, default=[3, 5, 7])
    parser.add_argument("--engine", choices=("swarm", "kubernetes"), default="swarm")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    print("| nodes | up from nothing | up when up | memory held | per node |\n|---|---|---|---|---|")
    figures = []
    for nodes in args.nodes:
        row = measure(nodes, args.engine)
        figures.append(row)
        print(f"| {nodes} | {row['up_cold']:.1f} s | {row['up_warm']:.1f} s | {row['memory_mb']:.0f} MB | "
              f"{row['per_node_mb']:.0f} MB |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
