"""The image builder: content-hash tags, skipped rebuilds, streamed steps and build errors, on a fake engine."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from harness import build
from harness.build import BOOTSTRAPPED_BASE, UPSTREAM_BASE, ImageBuilder, ImageSpec
from harness.errors import EnvironmentProblem, HarnessError
from harness.testing import FakeDockerClient

LB = ImageSpec("lb", {"HAPROXY_LOG": "warning"})  # a harness image: its context is under harness/dockerfiles
STEPS = [{"stream": "Step 1/2 : FROM base\n"}, {"stream": " ---> abc\n"}, {"stream": "Step 2/2 : COPY app.py /app/\n"}]


def test_each_dockerfile_step_is_reported_as_it_starts_and_the_image_is_tagged_by_content():
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, STEPS)
    lines: list[str] = []
    tag = ImageBuilder(client, lines.append).build(LB)
    assert tag == f"chaos-harness/lb:{LB.content_hash('sha256:base')}"
    assert lines == [f"building {tag}", "  lb Step 1/2 : FROM base", "  lb Step 2/2 : COPY app.py /app/"]
    assert client.builds[0]["buildargs"] == {"BASE_IMAGE": UPSTREAM_BASE, "HAPROXY_LOG": "warning"}
    assert LB.content_hash("sha256:other") != LB.content_hash("sha256:base")  # a new base means a new tag


def test_a_long_step_shows_its_latest_output_line_every_fifteen_seconds(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 16.0, 17.0, 20.0, 40.0, 40.0])  # each call: after the step line, each output line
    monkeypatch.setattr(build, "monotonic", lambda: next(clock))
    steps = [STEPS[0], {"stream": "Get:1 http://deb.example bookworm InRelease\n"},
             {"stream": "Get:2 http://deb.example bookworm/main amd64 Packages\n"},
             {"stream": "Unpacking haproxy ...\n"}, {"stream": "Setting up haproxy ...\n"}]
    lines: list[str] = []
    ImageBuilder(FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, steps), lines.append).build(LB)
    assert lines[1:] == ["  lb Step 1/2 : FROM base", "  lb   Get:2 http://deb.example bookworm/main amd64 Packages",
                         "  lb   Setting up haproxy ..."]


def test_an_image_whose_inputs_did_not_change_is_not_rebuilt():
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, STEPS)
    builder = ImageBuilder(client)
    assert builder.build(LB) == builder.build(LB)
    assert len(client.builds) == 1


def test_a_failed_step_raises_with_the_engine_error_and_the_log_tail():
    failing = STEPS[:1] + [{"stream": "E: Unable to locate package nope\n"},
                           {"error": "The command '/bin/sh -c apt-get install nope' returned a non-zero code: 100"}]
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, failing)
    with pytest.raises(HarnessError) as raised:
        ImageBuilder(client).build(LB)
    message = str(raised.value)
    assert "returned a non-zero code: 100" in message and "Unable to locate package nope" in message


def test_a_missing_base_is_imported_from_the_users_cache_without_debootstrap(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)  # no debootstrap, no go: the cache must do
    entry = tmp_path / "chaos-harness" / "base" / f"debian-{build.DEBIAN_SUITE}-minbase-{platform.machine()}"
    entry.mkdir(parents=True)
    (entry / build.BASE_ARCHIVE).write_bytes(b"a root filesystem")
    client = FakeDockerClient({}, STEPS)
    assert ImageBuilder(client).base_image() == BOOTSTRAPPED_BASE
    assert client.imports == [{"src": str(entry / build.BASE_ARCHIVE), "repository": "chaos-harness/debian",
                               "tag": "bookworm"}]


def test_without_the_base_in_the_cache_or_debootstrap_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    with pytest.raises(EnvironmentProblem, match="apt-get install -y debootstrap"):
        ImageBuilder(FakeDockerClient({}, STEPS)).base_image()
    assert list((tmp_path / "chaos-harness" / "base").iterdir()) == []


def test_a_go_binary_is_built_once_per_user_and_version_and_copied_into_each_build(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(build.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    runs: list[list[str]] = []

    def go(argv: list[str], env: dict[str, str] | None = None) -> None:  # `go install` names the file by the module
        runs.append(argv)
        Path(env["GOBIN"], "server").write_text("toxiproxy")

    monkeypatch.setattr(build, "_run", go)
    spec = build.TOXIPROXY_IMAGE
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, STEPS)
    ImageBuilder(client).build(spec)
    ImageBuilder(FakeDockerClient({UPSTREAM_BASE: "sha256:other"}, STEPS)).build(spec)  # a new base: rebuilt
    assert runs == [["go", "install", build.TOXIPROXY_MODULE + "@" + build.TOXIPROXY_VERSION]]
    cached_binary = (tmp_path / "chaos-harness" / "go" / f"toxiproxy-server@{build.TOXIPROXY_VERSION}-"
                     f"{platform.machine()}" / "toxiproxy-server")
    assert cached_binary.read_text() == "toxiproxy"


def test_a_context_hashes_alike_with_the_byte_code_pip_compiles_beside_its_sources(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM base\nCOPY app.py /app/\n")
    (tmp_path / "app.py").write_text("print('v1')\n")
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, STEPS)
    builder = ImageBuilder(client)
    builder.build_context(tmp_path, "shop/web:1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00compiled")
    builder.build_context(tmp_path, "shop/web:1")
    assert len(client.builds) == 1
    (tmp_path / "app.py").write_text("print('v2')\n")  # a source that changed is a new image
    builder.build_context(tmp_path, "shop/web:1")
    assert len(client.builds) == 2
