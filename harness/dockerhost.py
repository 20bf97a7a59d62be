"""The Docker engine on the machine running the harness, and error translation."""

from __future__ import annotations

import docker
from docker.errors import APIError, DockerException, NotFound

from harness.errors import ClusterError, EnvironmentProblem

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


def refuse_unowned(kind: str, name: str, labels: dict | None, cluster: str) -> None:
    """An object named like one of the cluster's that does not carry the cluster's label is not adopted:
    ClusterError naming it and how to proceed."""
    owner = (labels or {}).get(CLUSTER_LABEL)
    if owner != cluster:
        whose = f"cluster {owner!r}'s" if owner else "not the harness's (it has no cluster label)"
        raise ClusterError(f"a {kind} named {name} exists on this machine and is {whose}; the harness never "
                           f"takes over what it did not make for cluster {cluster!r}: remove or rename the "
                           f"{kind}, or choose another cluster name (--cluster)")


def owned_volume(client: docker.DockerClient, name: str, cluster: str) -> docker.models.volumes.Volume:
    """The cluster's volume ``name``, created (labelled) when missing; one of the same name not the cluster's is
    refused, never adopted."""
    try:
        volume = client.volumes.get(name)
    except NotFound:
        return client.volumes.create(name, labels={CLUSTER_LABEL: cluster})
    refuse_unowned("volume", name, volume.attrs.get("Labels"), cluster)
    return volume


def accepts_privileged(client: docker.DockerClient, image: str, labels: dict[str, str]) -> bool:
    """Whether the engine starts a --privileged container of ``image`` (some hosts lack CAP_SYS_RESOURCE); the
    probe, labelled ``labels``, is removed again."""
    probe = client.containers.create(image, entrypoint=["true"], privileged=True, labels=labels)
    try:
        probe.start()
        return True
    except APIError:
        return False
    finally:
        probe.remove(force=True, v=True)
