"""The cluster's private registry, served to the nodes through Toxiproxy.

Nodes pull from ``registry:5000`` (an insecure registry in their engine
flags), which is a Toxiproxy proxy in front of the real registry, so that
registry faults are real TCP faults. The host pushes to the registry itself
through a port published on 127.0.0.1, which Docker trusts without TLS.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import tarfile
from pathlib import Path

import bcrypt
import docker
from docker.errors import NotFound
from toxiproxy import Toxiproxy
from toxiproxy.proxy import Proxy

from harness.cluster.config import REGISTRY_PORT, SECURE_PORT
from harness.dockerhost import CLUSTER_LABEL, ROLE_LABEL, owned_volume, refuse_unowned
from harness.engine.base import RegistryAuth
from harness.errors import EnvironmentProblem
from harness.http import HttpClient
from harness.waiting import wait_until

REGISTRY_ALIAS = "registry"  # what the nodes pull from: the Toxiproxy in front of the registry
UPSTREAM_ALIAS = "registry-upstream"  # the registry itself
NODE_REGISTRY = f"{REGISTRY_ALIAS}:{REGISTRY_PORT}"
STACK_NAMESPACE = "chaos"
PROXY_NAME = "registry"
# Manifests that name the image's configuration, whose digest is the image ID of Docker's own image store.
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


class Registry:
    """Start, fill and remove the cluster's registry container."""

    def __init__(self, client: docker.DockerClient, cluster: str, network: str, port: int, address: str = "",
                 pulled_as: str = NODE_REGISTRY) -> None:
        """``address``: where this machine pushes (default: the registry container's port on 127.0.0.1);
        ``pulled_as``: how the nodes name it."""
        self._client = client
        self._cluster = cluster
        self._network = network
        self._port = port
        self.address = address or f"127.0.0.1:{port}"  # where this machine pushes
        self._pulled_as = pulled_as
        self.container_name = f"{cluster}-registry"
        self.data_volume = f"{self.container_name}-data"

    def ensure_running(self, image: str) -> None:
        """Start the registry unless it runs; wait until its API answers."""
        volume = owned_volume(self._client, self.data_volume, self._cluster)
        ensure_container(self._client, image, self.container_name, self._cluster, self._network, UPSTREAM_ALIAS,
                         ports={"5000/tcp": ("127.0.0.1", self._port)},
                         volumes={volume.name: {"bind": "/var/lib/docker-registry", "mode": "rw"}})
        wait_until(self._answers, timeout=30, what=f"the registry on {self.address}")

    def push(self, local_tag: str, repository: str, tag: str) -> str:
        """Push a local image as ``chaos/<repository>:<tag>`` unless the registry holds it already; return the name
        nodes pull. A push tag the harness made exists on this machine only while the push runs; one that was there
        before (on this image, or on another that an earlier run pushed) is there again afterwards."""
        name = f"{STACK_NAMESPACE}/{repository}"
        image = self._client.images.get(local_tag)
        if not self.holds(name, tag, image.id):
            remote = f"{self.address}/{name}"
            held_before = self._holder(f"{remote}:{tag}")
            image.tag(remote, tag)
            try:
                for line in self._client.images.push(remote, tag, stream=True, decode=True):
                    if "error" in line:
                        raise EnvironmentProblem(f"pushing {remote}:{tag} failed: {line['error']}")
            finally:
                if held_before is None:
                    self._client.images.remove(f"{remote}:{tag}", noprune=True)
                elif held_before.id != image.id:
                    held_before.tag(remote, tag)
        return f"{self._pulled_as}/{name}:{tag}"

    def _holder(self, reference: str):
        """The local image that carries the tag ``reference``, None when none does."""
        try:
            return self._client.images.get(reference)
        except NotFound:
            return None

    def holds(self, name: str, tag: str, image_id: str) -> bool:
        """Whether ``name:tag`` in the registry is the image ``image_id``: its manifest names that configuration.

        The registry takes a manifest only once it has every blob the manifest names, so nothing is missing.
        """
        answer = HttpClient(f"http://{self.address}").get(f"/v2/{name}/manifests/{tag}",
                                                                   headers={"Accept": MANIFEST_TYPES})
        if answer is None or answer.status != 200:
            return False
        try:
            return json.loads(answer.body)["config"]["digest"] == image_id
        except (ValueError, KeyError, TypeError):  # another kind of manifest: push to be sure
            return False

    def image_config(self, reference: str) -> dict:
        """The configuration (``Healthcheck``, ``Env``, ...) of an image the nodes pull, ``host:port/name:tag``
        (either registry name: the twins share one store); empty when the registry does not hold it."""
        name, _, tag = reference.split("/", 1)[1].rpartition(":")
        client = HttpClient(f"http://{self.address}")
        answer = client.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
        if answer is None or answer.status != 200:
            return {}
        try:
            blob = client.get(f"/v2/{name}/blobs/{json.loads(answer.body)['config']['digest']}")
            return json.loads(blob.body).get("config") or {} if blob is not None and blob.status == 200 else {}
        except (ValueError, KeyError, TypeError):
            return {}

    def _answers(self) -> bool:
        answer = HttpClient(f"http://{self.address}").get("/v2/")
        return answer is not None and answer.status == 200


def ensure_container(client: docker.DockerClient, image: str, name: str, cluster: str, network: str, alias: str,
                     ports: dict, volumes: dict | None = None, command: list[str] | None = None) -> None:
    """Start the cluster's container ``name``, creating it (labelled, on ``network`` as ``alias``) if missing."""
    try:
        container = client.containers.get(name)
        refuse_unowned("container", name, container.labels, cluster)
        if container.status != "running":
            container.start()
    except NotFound:
        client.containers.run(
            image,
            command=command,
            name=name,
            detach=True,
            network=network,
            networking_config={network: client.api.create_endpoint_config(aliases=[alias])},
            ports=ports,
            volumes=volumes or {},
            labels={CLUSTER_LABEL: cluster, ROLE_LABEL: name.removeprefix(f"{cluster}-")},
            restart_policy={"Name": "unless-stopped"},
        )




class RegistryProxy:
    """The Toxiproxy server in front of the registry, driven with toxiproxy-python."""

    def __init__(self, client: docker.DockerClient, cluster: str, network: str, api_port: int,
                 hosts_address: str = "") -> None:
        self._client = client
        self._cluster = cluster
        self._network = network
        self.api_port = api_port
        self._hosts_address = hosts_address  # real hosts pull from this machine at this address
        self.container_name = f"{cluster}-toxiproxy"

    def ensure_running(self, image: str) -> None:
        """Start Toxiproxy unless it runs, and make sure the registry proxy exists and is enabled."""
        ports = {"8474/tcp": ("127.0.0.1", self.api_port)}
        if self._hosts_address:
            ports[f"{REGISTRY_PORT}/tcp"] = (self._hosts_address, REGISTRY_PORT)
        ensure_container(self._client, image, self.container_name, self._cluster, self._network, REGISTRY_ALIAS,
                         ports=ports)
        server = wait_until(self._api, timeout=30, what=f"Toxiproxy's API on 127.0.0.1:{self.api_port}")
        if server.get_proxy(PROXY_NAME) is None:
            server.create(upstream=f"{UPSTREAM_ALIAS}:5000", name=PROXY_NAME, listen="0.0.0.0:5000", enabled=True)

    def _api(self) -> Toxiproxy:
        """A client for the Toxiproxy API; raises until the API answers a request."""
        server = Toxiproxy()
        server.update_api_consumer("127.0.0.1", self.api_port)
        server.proxies()  # a published port accepts connections before the server listens
        return server

    def proxy(self) -> Proxy:
        """The registry proxy."""
        try:
            proxy = self._api().get_proxy(PROXY_NAME)
        except OSError as error:  # requests' errors are OSErrors
            raise EnvironmentProblem(f"Toxiproxy on 127.0.0.1:{self.api_port} does not answer: {error}") from error
        if proxy is None:
            raise EnvironmentProblem(f"Toxiproxy on 127.0.0.1:{self.api_port} has no {PROXY_NAME!r} proxy; "
                                     "run `chaos-harness cluster up` again")
        return proxy


SECURE_ALIAS = "registry-secure"
SECURE_REGISTRY = f"{SECURE_ALIAS}:{SECURE_PORT}"
REGISTRY_USER = "chaos"


class SecureRegistry:
    """A read-only twin of the registry that requires credentials (htpasswd, bcrypt).

    It serves the same storage; the nodes reach it as ``registry-secure:5001``.
    The password lives in the cluster's state directory (mode 0600).
    """

    def __init__(self, client: docker.DockerClient, cluster: str, network: str, state_dir: Path,
                 hosts_address: str = "") -> None:
        self._client = client
        self._cluster = cluster
        self._network = network
        self._hosts_address = hosts_address  # real hosts pull from this machine at this address
        self._secret = state_dir / "registry-credentials.json"
        self.container_name = f"{cluster}-registry-secure"

    @property
    def has_credentials(self) -> bool:
        """Whether the cluster's credentials were made (``auth`` makes them on first use)."""
        return self._secret.exists()

    def auth(self) -> RegistryAuth:
        """The credentials the cluster uses, made on first use."""
        if not self._secret.exists():
            self._secret.parent.mkdir(parents=True, exist_ok=True)
            self._secret.touch(mode=0o600)
            self._secret.write_text(json.dumps({"username": REGISTRY_USER, "password": secrets.token_urlsafe(18)}))
        return RegistryAuth(server=SECURE_REGISTRY, **json.loads(self._secret.read_text()))

    def ensure_running(self, image: str, data_volume: str) -> None:
        """Start the authenticated twin over the registry's storage, accepting the cluster's password."""
        exists = bool(self._client.containers.list(all=True, filters={"name": f"^{self.container_name}$"}))
        ports = {f"{SECURE_PORT}/tcp": (self._hosts_address, SECURE_PORT)} if self._hosts_address else {}
        ensure_container(self._client, image, self.container_name, self._cluster, self._network, SECURE_ALIAS,
                         ports=ports, volumes={data_volume: {"bind": "/var/lib/docker-registry", "mode": "ro"}},
                         command=["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config-secure.yml"])
        if not exists:
            self.accept_password(self.auth().password)

    def accept_password(self, password: str) -> None:
        """Make the registry accept ``password`` (and only it) for the cluster's user; restarts it."""
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            data = f"{REGISTRY_USER}:{hashed}\n".encode()
            info = tarfile.TarInfo("auth/htpasswd")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
        container = self._client.containers.get(self.container_name)
        container.put_archive("/", archive.getvalue())
        container.restart(timeout=2)
        wait_until(lambda: self._probe(self.auth()) in (200, 401), timeout=30, what="the authenticated registry")

    def accepts(self, auth: RegistryAuth) -> bool:
        """Whether the registry accepts ``auth`` right now (checked from inside the cluster network)."""
        try:
            container = self._client.containers.get(self.container_name)
        except NotFound:
            return False
        return container.status == "running" and self._probe(auth) == 200

    def _probe(self, auth: RegistryAuth) -> int:
        """The status the registry answers ``auth`` with (0 when it does not answer)."""
        credentials = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        answer = HttpClient(f"http://{self._address()}:{SECURE_PORT}", timeout=3).get(
            "/v2/", headers={"Authorization": f"Basic {credentials}"})
        return answer.status if answer else 0

    def _address(self) -> str:
        container = self._client.containers.get(self.container_name)
        return container.attrs["NetworkSettings"]["Networks"][self._network]["IPAddress"]
