"""The Docker engine on the machine running the harness, and error translation."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from harness.errors import EnvironmentProblem

LABEL_PREFIX = "io.chaos-harness"
CLUSTER_LABEL = f"{LABEL_PREFIX}.cluster"
RUN_LABEL = f"{LABEL_PREFIX}.run"
ROLE_LABEL = f"{LABEL_PREFIX}.role"


def host_docker() -> docker.DockerClient:
    """A client for the local Docker engine, or an error that says how to get one."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as error:
        raise EnvironmentProblem(
            f"no Docker engine answers ({error}). Run the README's setup command, "
            "or start one with `dockerd >/var/log/dockerd.log 2>&1 &`."
        ) from error
    return client
