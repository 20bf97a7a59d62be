"""The cluster: nodes with their own Docker engine, a network, a private registry."""

from harness.cluster.config import ClusterConfig, ClusterState
from harness.cluster.cluster import Cluster

__all__ = ["Cluster", "ClusterConfig", "ClusterState"]
