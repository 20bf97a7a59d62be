"""The wheel as a new user has it: built from this checkout, installed alone in a fresh virtualenv outside the
repository, and driven from an empty directory with a compose stack of the user's own (not one of the examples).

``--version``, ``doctor``, ``init``, ``validate``, then on this machine's Docker engine ``cluster up``, one
shortened scenario on the user's stack, and ``down``. Nothing is read from the checkout after the build: every
file a command needs comes from the installed package. The harness's own images are found by their content hash
(``setup`` built them), so only the user's two images are built, once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import venv
from pathlib import Path

import pytest
import yaml

from tests.wheel import build_wheel

pytestmark = pytest.mark.docker

CLUSTER = "chaos-wheel"
COMPOSE = """\
# A notes service: a static web tier in front of a Redis cache.
services:
  web:
    image: wheelnotes/web:1
    build:
      context: web
      args: {NOTES_VERSION: "1"}
    ports: ["8000:8000"]
    deploy:
      replicas: 2
  cache:
    image: wheelnotes/cache:7
    build: cache
    volumes: ["cachedata:/data"]
volumes:
  cachedata: {}
"""
WEB_DOCKERFILE = """\
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox \\
 && rm -rf /var/lib/apt/lists/*
ARG NOTES_VERSION=1
RUN mkdir /www && echo "notes ${NOTES_VERSION}" > /www/index.html
EXPOSE 8000
CMD ["busybox", "httpd", "-f", "-p", "8000", "-h", "/www"]
"""
CACHE_DOCKERFILE = """\
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \\
 && rm -rf /var/lib/apt/lists/*
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtualenv with only the wheel (and what it depends on, from the package index); its bin directory."""
    where = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(where / "dist")
    venv.create(where / "venv", with_pip=True, symlinks=True)
    python = where / "venv" / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    return where / "venv" / "bin"


@pytest.fixture
def project(tmp_path) -> Path:
    """The user's repository: the compose file and the two build contexts, nothing else."""
    repo = tmp_path / "notes"
    for service, dockerfile in (("web", WEB_DOCKERFILE), ("cache", CACHE_DOCKERFILE)):
        (repo / service).mkdir(parents=True)
        (repo / service / "Dockerfile").write_text(dockerfile)
    (repo / "compose.yaml").write_text(COMPOSE)
    return repo


@pytest.fixture
def home() -> Path:
    """CHAOS_HOME: short, as the node engines' unix sockets live under it (a path of at most 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="chaos-wheel-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_wheel_alone_runs_a_users_stack_from_init_to_down(installed, project, home):

    def harness(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env |= {"CHAOS_HOME": str(home), "PATH": f"{installed}:{env['PATH']}"}
        started = time.monotonic()
        result = subprocess.run([installed / "chaos-harness", *args], cwd=project, env=env, capture_output=True,
                                text=True, timeout=timeout)
        print(f"chaos-harness {' '.join(args)}: exit {result.returncode} in {time.monotonic() - started:.1f} s")
        return result

    where = harness("--version", timeout=60)
    assert where.returncode == 0 and where.stdout.startswith("chaos-harness "), where.stderr
    imported = subprocess.run([installed / "python", "-c", "import harness; print(harness.__file__)"], cwd=project,
                              capture_output=True, text=True)
    assert imported.stdout.startswith(f"{installed.parent}/lib/"), "the harness must come from the wheel alone"
    doctor = harness("doctor", timeout=300)
    assert doctor.returncode in (0, 1), doctor.stderr  # it ran; what this machine lacks is not this test's concern

    init = harness("init")
    assert init.returncode == 0, init.stderr
    profile = project / "chaos" / "app.yaml"
    text = profile.read_text()
    todo = '"web": "wheelnotes/web:NEXT"'  # the release to upgrade to, which only the user can name
    assert 'compose: "../compose.yaml"' in text and todo in text
    profile.write_text(text.replace(todo, '"web": {image: "wheelnotes/web:2", build: {context: "../web", '
                                          'args: {NOTES_VERSION: "2"}}}'))
    scenario = yaml.safe_load((project / "chaos" / "scenarios" / "clean-upgrade.yaml").read_text())
    scenario["name"] = "quick-upgrade"
    scenario["stack"]["replicas"] = 2
    scenario["strategy"]["update_config"].update(delay="1s", monitor="2s")
    scenario["phases"] = {"warmup": "3s", "observe": "4s", "verify_window": "3s"}
    scenario["load"] = {"rate": 20}
    scenario["expect"] = {"upgrade_outcome": ["completed"]}
    (project / "chaos" / "scenarios" / "quick-upgrade.yaml").write_text(yaml.safe_dump(scenario))
    validate = harness("validate", "chaos/scenarios/quick-upgrade.yaml", "halted-node", "--app", "chaos/app.yaml")
    assert validate.returncode == 0, validate.stderr

    cluster = ["--cluster", CLUSTER]
    try:
        up = harness(*cluster, "cluster", "up")
        assert up.returncode == 0, up.stderr
        run = harness(*cluster, "run", "chaos/scenarios/quick-upgrade.yaml", "--app", "chaos/app.yaml",
                      "--reports", "reports")
        assert run.returncode == 0, run.stdout + run.stderr
        (run_dir,) = (project / "reports").iterdir()
        assert {"report.html", "summary.md", "junit.xml", "report.json"} <= {p.name for p in run_dir.iterdir()}
        report = json.loads((run_dir / "report.json").read_text())
        assert report["schema"] == "chaos-harness/report@1" and report["passed"] is True
    finally:
        down = harness(*cluster, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (project / ".chaos").exists(), "state belongs in CHAOS_HOME, not in the user's repository"
