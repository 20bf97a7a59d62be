"""The one exception tree of chaos-harness.

    HarnessError                 exit 3 unless a child says otherwise
    ├── ScenarioError            exit 2: a scenario file is invalid
    ├── ProfileError             exit 2: an app profile, its compose file or its images are unusable
    ├── UsageError               exit 2: the command line, or a run directory or report it names, is unusable
    ├── InventoryError           exit 2: an inventory of hosts is invalid
    ├── EnvironmentProblem       exit 3: Docker, Vagrant or a tool is missing or failing
    ├── ClusterError             exit 3: the cluster is absent or unhealthy
    ├── EngineError              exit 3: the deployment engine refused or failed
    │   └── ServiceMissing       a service that was asked for is not deployed
    ├── WaitTimeout              exit 3: something awaited did not happen in time
    └── RunInterrupted           exit 130: SIGINT/SIGTERM during a run
    (any other exception)        exit 4: the harness broke; one line, the traceback in a crash log
    (KeyboardInterrupt)          exit 130 outside a run too

Third-party errors (docker, vagrant, subprocess) are translated into these at
the boundary, with a message that says what to do. Whatever is left is a bug:
``harness.cli`` prints ``error: the harness broke: <type>: <message>`` and
where the traceback went (``$CHAOS_HOME/crashes/``).
"""

from __future__ import annotations

import json


class HarnessError(Exception):
    """Base of every error chaos-harness raises on purpose."""

    exit_code = 3


class ScenarioError(HarnessError):
    """A scenario file is malformed; the message names file, key, value and what is allowed."""

    exit_code = 2


class UsageError(HarnessError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


class InventoryError(HarnessError):
    """An inventory of hosts is malformed; the message names file, key, value and what is allowed."""

    exit_code = 2


class EnvironmentProblem(HarnessError):
    """A tool the harness needs (Docker engine, Vagrant, debootstrap) is missing or failing."""


class ClusterError(HarnessError):
    """The cluster is not up, not healthy, or a node operation failed."""


class EngineError(HarnessError):
    """The deployment engine refused a request or reported a failure."""


class ServiceMissing(EngineError):
    """The service asked for is not deployed (yet, or any more)."""


class WaitTimeout(HarnessError):
    """A polled condition did not become true before its deadline."""


class RunInterrupted(HarnessError):
    """The run was interrupted by a signal; faults were healed on the way out."""

    exit_code = 130


class ProfileError(HarnessError):
    """An app profile (or the compose file and images it names) is unusable; the message says where and why."""

    exit_code = 2


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (whitespace runs joined), cut to ``limit`` characters with an ellipsis."""
    joined = " ".join(text.split())
    return joined if len(joined) <= limit else joined[:limit - 1] + "…"


def reason(error: BaseException) -> str:
    """Why a line or file could not be read, short: JSON errors without their line, a missing key named."""
    if isinstance(error, json.JSONDecodeError):
        where = f"line {error.lineno} column {error.colno}" if error.lineno > 1 else f"column {error.colno}"
        return f"not JSON: {error.msg} at {where}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8: byte {error.object[error.start]:#04x} at column {error.start + 1}"
    if isinstance(error, KeyError):
        return f"no {one_line(str(error), 60)}"
    return one_line(str(error), 160) or type(error).__name__
