"""The cluster's own Docker objects on this machine: what it names, refuses to adopt and removes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from harness.cluster.config import ClusterConfig
from harness.cluster.localobjects import LocalObjects
from harness.dockerhost import CLUSTER_LABEL
from harness.errors import ClusterError


@dataclass
class Obj:
    """A container, network or volume of the fake engine; ``removed`` records the order of removals."""

    kind: str
    name: str
    labels: dict = field(default_factory=dict)
    removed: list = field(default_factory=list)

    @property
    def attrs(self) -> dict:
        return {"Labels": self.labels}

    def remove(self, **options) -> None:
        self.removed.append((self.kind, self.name, options))


class Kind:
    """One kind of object of the fake engine, listed as docker-py lists it (``filters={"label": "k=v"}``)."""

    def __init__(self, objects: list[Obj]) -> None:
        self._objects = objects

    def list(self, all: bool = False, filters: dict | None = None, names: list | None = None) -> list[Obj]:
        found = [o for o in self._objects if names is None or o.name in names]
        if filters:
            key, value = filters["label"].split("=", 1)
            found = [o for o in found if o.labels.get(key) == value]
        return found


class Engine:
    def __init__(self, *objects: Obj) -> None:
        self.removed: list = []
        for obj in objects:
            obj.removed = self.removed
        self.containers, self.networks, self.volumes = (
            Kind([o for o in objects if o.kind == kind]) for kind in ("container", "network", "volume"))


OURS = {CLUSTER_LABEL: "chaos"}


def test_removal_takes_only_what_carries_the_clusters_label_containers_first_with_their_volumes():
    engine = Engine(Obj("volume", "chaos-node1-docker", OURS), Obj("network", "chaos-net", OURS),
                    Obj("container", "chaos-node1", OURS), Obj("container", "chaos-registry", {CLUSTER_LABEL: "other"}),
                    Obj("volume", "chaos-data"))
    objects = LocalObjects(engine, ClusterConfig(name="chaos"))
    assert objects.labelled() == ["container chaos-node1", "network chaos-net", "volume chaos-node1-docker"]
    assert objects.remove() == ["container chaos-node1", "network chaos-net", "volume chaos-node1-docker"]
    assert engine.removed == [("container", "chaos-node1", {"force": True, "v": True}),
                              ("network", "chaos-net", {}), ("volume", "chaos-node1-docker", {"force": True})]


@pytest.mark.parametrize("kind, name", [("network", "chaos-net"), ("container", "chaos-registry"),
                                        ("volume", "chaos-node2-docker")])
def test_an_object_named_like_the_clusters_own_but_not_labelled_as_its_is_refused(kind, name):
    objects = LocalObjects(Engine(Obj(kind, name)), ClusterConfig(name="chaos"))
    with pytest.raises(ClusterError, match=name):
        objects.refuse_collisions()


def test_the_clusters_own_names_are_accepted_and_a_cluster_on_hosts_names_no_node_objects_here():
    LocalObjects(Engine(Obj("network", "chaos-net", OURS)), ClusterConfig(name="chaos")).refuse_collisions()
    names = LocalObjects(Engine(), ClusterConfig(name="chaos", provider="ssh", inventory="hosts.yaml")).names()
    assert names["container"] == ["chaos-registry", "chaos-registry-secure", "chaos-toxiproxy"]
    assert names["volume"] == ["chaos-registry-data"]
