"""A real cluster for the integration tests, under its own name and ports."""

from __future__ import annotations

import pytest

from harness.cluster import Cluster, ClusterConfig

TEST_CLUSTER = ClusterConfig(name="chaos-it", nodes=3, lb_port=28080, lb_admin_port=29999, registry_port=25000)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    config = ClusterConfig(**{**TEST_CLUSTER.__dict__, "workdir": tmp_path_factory.mktemp("chaos-home")})
    handle = Cluster(config)
    handle.up()
    yield handle
    handle.down()  # idempotent: the teardown test has usually done it already


def pytest_collection_modifyitems(items):
    """Integration tests run in file order, teardown last."""
    items.sort(key=lambda item: "test_teardown" in item.nodeid)
