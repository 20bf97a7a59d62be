"""What the cluster logged during a run: each node's Docker engine and each service's tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Protocol

from harness.engine.base import Engine
from harness.errors import HarnessError, ServiceMissing

LOGS_DIR = "logs"


class LoggingCluster(Protocol):
    """What log collection needs of a cluster (``Cluster``, or the fake in ``harness.testing``)."""

    engine: Engine

    def engine_log(self, node: str, since: float) -> str: ...


def collect_logs(cluster: LoggingCluster, nodes: Iterable[str], services: Iterable[str], since: float,
                 run_dir: Path) -> list[str]:
    """Write ``logs/<node>.engine.log`` and ``logs/<service>.log`` from ``since`` on; return the files written.

    Collecting never fails a run: a log that cannot be read says why in its
    file instead, and a service that is not deployed has no file.
    """
    directory = run_dir / LOGS_DIR
    directory.mkdir(exist_ok=True)
    sources: dict[str, Callable[[], str]] = {
        f"{node}.engine.log": partial(cluster.engine_log, node, since) for node in nodes}
    sources |= {f"{service}.log": partial(cluster.engine.service_logs, service, since) for service in services}
    written = []
    for name, read in sources.items():
        try:
            text = read()
        except ServiceMissing:
            continue
        except HarnessError as error:
            text = f"chaos-harness: this log could not be collected: {error}\n"
        except Exception as error:  # noqa: BLE001 - a log is not worth the run's report: say what broke, go on
            text = f"chaos-harness: this log could not be collected ({type(error).__name__}: {error})\n"
        (directory / name).write_text(text)
        written.append(f"{LOGS_DIR}/{name}")
    return written
