"""A real cluster for the integration tests, under its own name and ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.cli import main
from harness.cluster import Cluster, ClusterConfig
from harness.errors import ServiceMissing
from harness.scenario import Stack
from harness.stack import BLUE, GREEN, releases_by_address, served_by
from harness.stack.from_spec import stack_for

TEST_CLUSTER = ClusterConfig(name="chaos-it", nodes=3, lb_port=28080, lb_admin_port=29999, registry_port=25000,
                             toxiproxy_port=28474)


def up_then_down(config: ClusterConfig) -> Iterator[Cluster]:
    """A fixture's cluster: brought up (and taken down again when that fails), yielded, taken down after.

    The test clusters' names are the tests' own: what an interrupted earlier test session left under one (its
    state went with that session's temporary CHAOS_HOME) is taken down first, instead of failing every test."""
    handle = Cluster(config)
    if left := handle.local_objects.labelled():
        print(f"taking down what an interrupted test session left of cluster {config.name!r}: {', '.join(left)}")
        handle.down()
    try:
        handle.up()
    except BaseException:
        handle.down()  # a cluster that failed to come up is not left behind
        raise
    yield handle
    Cluster(config).down()  # from the state on disk: a teardown test has usually removed it already


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    yield from up_then_down(ClusterConfig(**{**TEST_CLUSTER.__dict__, "workdir": tmp_path_factory.mktemp("chaos-home")}))


GUESTBOOK = Path(__file__).resolve().parents[2] / "examples" / "guestbook" / "guestbook.yaml"


@pytest.fixture(scope="session")
def demo(cluster) -> App:
    """The built-in demo app (the default profile), its broken release synthesised."""
    return App.prepare(load_profile(DEFAULT_PROFILE), cluster.builder, ["old", "new", "broken"])


@pytest.fixture(scope="session")
def guestbook(cluster) -> App:
    """The example stack that shares nothing with the demo: Node.js and PostgreSQL, no version header."""
    return App.prepare(load_profile(GUESTBOOK), cluster.builder, ["old", "new", "broken"])


def relocatable(profile: Path) -> dict:
    """The profile's document with every path it names made absolute, so that a changed copy can live elsewhere
    (written with ``sort_keys=False``: the order of its releases says which is old and which new)."""
    document = yaml.safe_load(profile.read_text())
    absolute = lambda path: str(profile.parent / path)  # noqa: E731
    if "compose" in document:
        document["compose"] = absolute(document["compose"])
    source = document.get("kubernetes") or {}
    for key in ("manifests", "kustomize", "chart"):
        if key in source:
            source[key] = absolute(source[key])
    if "values" in source:
        source["values"] = [absolute(path) for path in source["values"]]
    for images in document["releases"].values():
        for image in images.values():
            if isinstance(image, dict) and image.get("build"):
                image["build"]["context"] = absolute(image["build"]["context"])
    return document


def live_releases(cluster: Cluster, app: App, probes: int = 10) -> list[str | None]:
    """Which release answered each of ``probes`` health checks through the load balancer (None: no answer)."""
    stack = stack_for(cluster, app, Stack())
    addresses: dict[str, str] = {}
    for slot in (BLUE, GREEN):
        try:
            addresses |= releases_by_address(cluster.engine.service(slot.service(stack.entry)))
        except ServiceMissing:
            continue
    return [served_by(probe, addresses) if stack.healthy(probe) else None
            for probe in (stack.probe() for _ in range(probes))]


LAST = ("test_crash_heal", "test_teardown")  # the most destructive test, then the teardown check


def pytest_collection_modifyitems(items):
    """Tests run in file order, except that the crash test and then the teardown check come last."""
    items.sort(key=lambda item: next((i + 1 for i, name in enumerate(LAST) if name in item.nodeid), 0))


def lint_proofs(cluster: Cluster, profile: str, rule: str, tmp_path: Path, *phases: str) -> tuple[dict, Path]:
    """``lint PROFILE --rule RULE --prove`` on the cluster's engine, as a user runs it, with ``phases``
    (NAME=DURATION) for each proof run: the proof's entry of lint.json, and the lint-<time> directory of its runs."""
    options = [option for phase in phases for option in ("--phase", phase)]
    done = CliRunner().invoke(main, ["--cluster", cluster.config.name, "lint", profile, "--engine",
                                     cluster.config.engine, "--rule", rule, "--prove", *options, "--format", "json",
                                     "-o", str(tmp_path / "lint.json"), "--fail-on", "never", "--reports",
                                     str(tmp_path)], env={"CHAOS_HOME": str(cluster.config.workdir)})
    assert done.exit_code == 0, done.output
    (proof,) = json.loads((tmp_path / "lint.json").read_text())["proofs"]
    (lint_dir,) = tmp_path.glob("lint-*")
    return proof, lint_dir
