"""The one exception tree of chaos-harness.

    HarnessError                 exit 3 unless a child says otherwise
    ├── ScenarioError            exit 2: a scenario file is invalid
    ├── ProfileError             exit 2: an app profile, its compose file or its images are unusable
    ├── UsageError               exit 2: the command line is wrong
    ├── EnvironmentProblem       exit 3: Docker, Vagrant or a tool is missing or failing
    ├── ClusterError             exit 3: the cluster is absent or unhealthy
    ├── EngineError              exit 3: the deployment engine refused or failed
    │   └── ServiceMissing       a service that was asked for is not deployed
    ├── WaitTimeout              exit 3: something awaited did not happen in time
    └── RunInterrupted           exit 130: SIGINT/SIGTERM during a run

Third-party errors (docker, vagrant, subprocess) are translated into these at
the boundary, with a message that says what to do.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error chaos-harness raises on purpose."""

    exit_code = 3


class ScenarioError(HarnessError):
    """A scenario file is malformed; the message names file, key, value and what is allowed."""

    exit_code = 2


class UsageError(HarnessError):
    """The command line asks for something that cannot be done."""

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
