"""A real cluster for the integration tests, under its own name and ports."""

from __future__ import annotations

import pytest

from harness.cluster import Cluster, ClusterConfig

TEST_CLUSTER = ClusterConfig(name="chaos-it", nodes=3, lb_port=28080, lb_admin_port=29999, registry_port=25000,
                             toxiproxy_port=28474)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    config = ClusterConfig(**{**TEST_CLUSTER.__dict__, "workdir": tmp_path_factory.mktemp("chaos-home")})
    handle = Cluster(config)
    try:
        handle.up()
    except BaseException:
        handle.down()  # a cluster that failed to come up is not left behind
        raise
    yield handle
    handle.down()  # idempotent: the teardown test has usually done it already


LAST = ("test_crash_heal", "test_teardown")  # the most destructive test, then the teardown check


def pytest_collection_modifyitems(items):
    """Tests run in file order, except that the crash test and then the teardown check come last."""
    items.sort(key=lambda item: next((i + 1 for i, name in enumerate(LAST) if name in item.nodeid), 0))
