"""The cluster's own containers, network and volumes on this machine's Docker engine: their names, and making the
network and volumes without ever adopting an object of the same name the harness did not make."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container

from harness.cluster.config import VM_PROVIDERS, ClusterConfig
from harness.dockerhost import CLUSTER_LABEL, accepts_privileged, owned_volume, refuse_unowned
from harness.errors import ClusterError

SUBNET_POOL = ipaddress.ip_network("172.28.0.0/14")


class LocalObjects:
    """What a cluster makes on this machine's Docker engine, each labelled with the cluster's name."""

    def __init__(self, client: docker.DockerClient, config: ClusterConfig) -> None:
        self._client = client
        self._config = config

    def names(self) -> dict[str, list[str]]:
        """The names the cluster gives its containers, networks and volumes on this machine, by kind."""
        config, name = self._config, self._config.resource_name
        if config.provider == "existing":
            return {"network": [], "container": [], "volume": []}
        nodes = config.node_names if config.provider not in ("ssh", *VM_PROVIDERS) else []
        return {"network": [config.network_name],
                "container": [name("registry"), name("registry-secure"), name("toxiproxy"), *map(name, nodes)],
                "volume": [name("registry-data"), *(name(f"{node}-docker") for node in nodes)]}

    def all_names(self) -> set[str]:
        return {name for names in self.names().values() for name in names}

    def labelled(self) -> list[str]:
        """Every container, network and volume on this engine labelled with the cluster's name."""
        return [f"{kind} {found.name}" for kind, found in self._labelled()]

    def remove(self) -> list[str]:
        """Remove every object labelled with the cluster's name (containers first, with their anonymous volumes);
        what was removed."""
        removed = []
        for kind, found in self._labelled():
            if kind == "container":
                found.remove(force=True, v=True)
            elif kind == "volume":
                found.remove(force=True)
            else:
                found.remove()
            removed.append(f"{kind} {found.name}")
        return removed

    def _labelled(self) -> Iterator[tuple[str, Any]]:
        """Each labelled object by kind, each kind listed only once the one before it has been consumed (a
        network is listed after the containers on it are gone)."""
        yield from (("container", c) for c in self.containers())
        yield from (("network", n) for n in self._client.networks.list(filters=self._label))
        yield from (("volume", v) for v in self._client.volumes.list(filters=self._label))

    def containers(self) -> list[Container]:
        """The containers on this engine labelled with the cluster's name, running or not."""
        return self._client.containers.list(all=True, filters=self._label)

    @property
    def _label(self) -> dict[str, str]:
        return {"label": f"{CLUSTER_LABEL}={self._config.name}"}

    def refuse_collisions(self) -> None:
        """Nothing here may carry a name the cluster will give its own containers, networks and volumes."""
        names = self.names()
        found = [("network", n.name, n.attrs.get("Labels"))  # (no names: Docker would list every network)
                 for n in (self._client.networks.list(names=names["network"]) if names["network"] else [])]
        found += [("container", c.name, c.labels) for c in self._client.containers.list(all=True)
                  if c.name in names["container"]]
        found += [("volume", v.name, v.attrs.get("Labels")) for v in self._client.volumes.list()
                  if v.name in names["volume"]]
        for kind, object_name, labels in found:
            refuse_unowned(kind, object_name, labels, self._config.name)

    def network(self):
        """The cluster's network, made on a free /24 unless it exists (then it must be the cluster's)."""
        try:
            network = self._client.networks.get(self._config.network_name)
        except NotFound:
            pass
        else:
            refuse_unowned("network", network.name, network.attrs.get("Labels"), self._config.name)
            return network
        subnet = self._free_subnet()
        # Docker hands out addresses only from the upper half; node addresses are fixed below it.
        pool = docker.types.IPAMPool(subnet=str(subnet), iprange=str(list(subnet.subnets())[1]))
        return self._client.networks.create(self._config.network_name, driver="bridge",
                                            ipam=docker.types.IPAMConfig(pool_configs=[pool]),
                                            labels={CLUSTER_LABEL: self._config.name})

    def volumes(self, nodes: list[str]) -> None:
        """Each node container's engine volume (its images and containers survive a restart)."""
        for node in nodes:
            owned_volume(self._client, self._config.resource_name(f"{node}-docker"), self._config.name)

    def accepts_privileged(self, image: str) -> bool:
        """Whether this engine accepts --privileged (some hosts lack CAP_SYS_RESOURCE)."""
        return accepts_privileged(self._client, image, {CLUSTER_LABEL: self._config.name})

    def _free_subnet(self) -> ipaddress.IPv4Network:
        """The first /24 of SUBNET_POOL that no Docker network on this engine overlaps."""
        taken = [
            ipaddress.ip_network(config["Subnet"])
            for network in self._client.networks.list(greedy=True)
            for config in (network.attrs.get("IPAM") or {}).get("Config") or []
            if "Subnet" in config and ":" not in config["Subnet"]
        ]
        for candidate in SUBNET_POOL.subnets(new_prefix=24):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
        raise ClusterError(f"no free /24 left in {SUBNET_POOL} for the cluster network")
