"""The cluster's private registry: a container on the cluster network.

Nodes reach it as ``registry:5000`` (an insecure registry in their engine
flags); the host pushes through a port published on 127.0.0.1, which Docker
trusts without TLS.
"""

from __future__ import annotations

import urllib.request

import docker
from docker.errors import NotFound

from harness.dockerhost import CLUSTER_LABEL, ROLE_LABEL
from harness.errors import EnvironmentProblem
from harness.waiting import wait_until

REGISTRY_ALIAS = "registry"
NODE_REGISTRY = f"{REGISTRY_ALIAS}:5000"
STACK_NAMESPACE = "chaos"


class Registry:
    """Start, fill and remove the cluster's registry container."""

    def __init__(self, client: docker.DockerClient, cluster: str, network: str, port: int) -> None:
        self._client = client
        self._cluster = cluster
        self._network = network
        self._port = port
        self.container_name = f"{cluster}-registry"

    def ensure_running(self, image: str) -> None:
        """Start the registry unless it runs; wait until its API answers."""
        try:
            container = self._client.containers.get(self.container_name)
            if container.status != "running":
                container.start()
        except NotFound:
            volume = self._client.volumes.create(f"{self.container_name}-data",
                                                 labels={CLUSTER_LABEL: self._cluster})
            self._client.containers.run(
                image,
                name=self.container_name,
                detach=True,
                network=self._network,
                networking_config={self._network: self._client.api.create_endpoint_config(aliases=[REGISTRY_ALIAS])},
                ports={"5000/tcp": ("127.0.0.1", self._port)},
                volumes={volume.name: {"bind": "/var/lib/docker-registry", "mode": "rw"}},
                labels={CLUSTER_LABEL: self._cluster, ROLE_LABEL: "registry"},
                restart_policy={"Name": "unless-stopped"},
            )
        wait_until(self._answers, timeout=30, what=f"the registry on 127.0.0.1:{self._port}")

    def push(self, local_tag: str, repository: str, tag: str) -> str:
        """Push a local image as ``chaos/<repository>:<tag>``; return the name nodes pull."""
        remote = f"127.0.0.1:{self._port}/{STACK_NAMESPACE}/{repository}"
        self._client.images.get(local_tag).tag(remote, tag)
        for line in self._client.images.push(remote, tag, stream=True, decode=True):
            if "error" in line:
                raise EnvironmentProblem(f"pushing {remote}:{tag} failed: {line['error']}")
        return f"{NODE_REGISTRY}/{STACK_NAMESPACE}/{repository}:{tag}"

    def _answers(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self._port}/v2/", timeout=2) as response:
            return response.status == 200


def registry_image(repository: str, tag: str) -> str:
    """The name a node pulls a stack image by."""
    return f"{NODE_REGISTRY}/{STACK_NAMESPACE}/{repository}:{tag}"


