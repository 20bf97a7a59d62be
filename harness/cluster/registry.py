"""The cluster's private registry, served to the nodes through Toxiproxy.

Nodes pull from ``registry:5000`` (an insecure registry in their engine
flags), which is a Toxiproxy proxy in front of the real registry, so that
registry faults are real TCP faults. The host pushes to the registry itself
through a port published on 127.0.0.1, which Docker trusts without TLS.
"""

from __future__ import annotations

import urllib.request

import docker
from docker.errors import NotFound
from toxiproxy import Toxiproxy
from toxiproxy.proxy import Proxy

from harness.dockerhost import CLUSTER_LABEL, ROLE_LABEL
from harness.errors import EnvironmentProblem
from harness.waiting import wait_until

REGISTRY_ALIAS = "registry"  # what the nodes pull from: the Toxiproxy in front of the registry
UPSTREAM_ALIAS = "registry-upstream"  # the registry itself
NODE_REGISTRY = f"{REGISTRY_ALIAS}:5000"
STACK_NAMESPACE = "chaos"
PROXY_NAME = "registry"


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
                networking_config={self._network: self._client.api.create_endpoint_config(aliases=[UPSTREAM_ALIAS])},
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




class RegistryProxy:
    """The Toxiproxy server in front of the registry, driven with toxiproxy-python."""

    def __init__(self, client: docker.DockerClient, cluster: str, network: str, api_port: int) -> None:
        self._client = client
        self._cluster = cluster
        self._network = network
        self.api_port = api_port
        self.container_name = f"{cluster}-toxiproxy"

    def ensure_running(self, image: str) -> None:
        """Start Toxiproxy unless it runs, and make sure the registry proxy exists and is enabled."""
        try:
            container = self._client.containers.get(self.container_name)
            if container.status != "running":
                container.start()
        except NotFound:
            self._client.containers.run(
                image,
                name=self.container_name,
                detach=True,
                network=self._network,
                networking_config={self._network: self._client.api.create_endpoint_config(aliases=[REGISTRY_ALIAS])},
                ports={"8474/tcp": ("127.0.0.1", self.api_port)},
                labels={CLUSTER_LABEL: self._cluster, ROLE_LABEL: "toxiproxy"},
                restart_policy={"Name": "unless-stopped"},
            )
        server = wait_until(self.server, timeout=30, what=f"Toxiproxy's API on 127.0.0.1:{self.api_port}")
        if server.get_proxy(PROXY_NAME) is None:
            server.create(upstream=f"{UPSTREAM_ALIAS}:5000", name=PROXY_NAME, listen="0.0.0.0:5000", enabled=True)

    def server(self) -> Toxiproxy | None:
        """A client for the Toxiproxy API, or None while it does not answer."""
        server = Toxiproxy()
        server.update_api_consumer("127.0.0.1", self.api_port)
        return server if server.running() else None

    def proxy(self) -> Proxy:
        """The registry proxy."""
        server = self.server()
        proxy = server.get_proxy(PROXY_NAME) if server else None
        if proxy is None:
            raise EnvironmentProblem(f"Toxiproxy on 127.0.0.1:{self.api_port} has no {PROXY_NAME!r} proxy; "
                                     "run `chaos-harness cluster up` again")
        return proxy
