"""A profile's compose file is read through a typed model of Swarm's compose format: the forms Swarm takes pass,
everything else is exit 2 naming the compose file, the key path, the value and what is allowed."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import harness.app
from harness.app import load_profile
from harness.cli import main

PROFILE = {"name": "shop", "compose": "compose.yml", "releases": {"v1": {"web": "shop/web:1"}},
           "entry": {"service": "web", "port": 80}}


def write(directory: Path, compose: str, profile: dict | None = None) -> Path:
    (directory / "compose.yml").write_text(compose)
    (directory / "shop.yaml").write_text(yaml.safe_dump(profile or PROFILE))
    return directory / "shop.yaml"


def validate(profile: Path):
    result = CliRunner().invoke(main, ["validate", "--app", str(profile)])
    return result.exit_code, " ".join(result.output.split())


WEB = "services:\n  web:\n    image: shop/web:1\n"


@pytest.mark.parametrize("extra, said", [
    ("    ports: '80'\n", "services.web.ports: got '80': Input should be a valid list"),
    ("    ports: 80\n", "services.web.ports: got 80: Input should be a valid list"),
    ("    ports: {80: 80}\n", "services.web.ports: got {80: 80}: Input should be a valid list"),
    ("    expose: '80'\n", "services.web.expose: got '80': Input should be a valid list"),
    ("    ports: ['99999:80']\n",
     "services.web.ports.0: got '99999:80': Value error, '99999:80': ports are 1 to 65535"),
    ("    ports: [80.5]\n", "services.web.ports.0: got 80.5: Input should be a valid integer"),
    ("    volumes: 5\n", "services.web.volumes: got 5: Input should be a valid list"),
    ("    deploy: global\n", "services.web.deploy: got 'global': Input should be a valid dictionary"),
    ("    deploy: {mode: everywhere}\n", "services.web.deploy.mode: got 'everywhere': Input should be 'replicated', "
                                       "'global', 'replicated-job' or 'global-job'"),
    ("    deploy: {replicas: '3'}\n", "services.web.deploy.replicas: got '3': Input should be a valid integer"),
    ("    env_file: true\n", "services.web.env_file: got True: Swarm takes a path or a list of paths"),
    ("    build: [a]\n", "services.web.build: got ['a']: Swarm takes a path (the build context) or a mapping"),
    ("    build: {context: 5}\n", "services.web.build.context: got 5: Input should be a valid string"),
    ("    build: {dockerfile: x}\n", "services.web.build.context: got nothing: this key is required"),
    ("    environment: {DEBUG: true}\n", "services.web.environment.DEBUG: got True: Swarm takes a text, a number or "
                                       "nothing (null) here"),
    ("    healthcheck: {interval: 5x}\n", "services.web.healthcheck.interval: got '5x': Value error, a duration"),
    ("    colour: red\n", "services.web.colour: got 'red': unknown key; allowed here: build, cap_add"),
    ("  1:\n    image: x\n", "services.1.[key]: got 1: a name here is text, not a number or another value"),
    ("configs: [a]\n", "configs: got ['a']: Input should be a valid dictionary"),
    ("secrets: 5\n", "secrets: got 5: Input should be a valid dictionary"),
    ("volumes: [data]\n", "volumes: got ['data']: Input should be a valid dictionary"),
    ("    env_file: \"a\\0b\"\n", "services.web.env_file: got 'a\\x00b': Value error, a path without NUL bytes"),
], ids=lambda value: value if len(value) < 30 else None)
def test_what_swarm_would_refuse_is_exit_2_naming_the_compose_file_and_the_key(tmp_path, extra, said):
    code, output = validate(write(tmp_path, WEB + extra))
    assert code == 2, output
    assert f"{tmp_path / 'compose.yml'}: {said}" in output


def test_image_5_is_no_image(tmp_path):
    code, output = validate(write(tmp_path, "services:\n  web:\n    image: 5\n"))
    assert code == 2 and "services.web.image: got 5: Input should be a valid string" in output


def test_the_forms_swarm_takes_are_accepted(tmp_path):
    (tmp_path / "web.env").write_text("A=1\n")
    (tmp_path / "site.conf").write_text("x")
    compose = """\
version: "3.8"
x-common: &common {restart_policy: {condition: any}}
services:
  web:
    image: shop/web:1
    build: web
    ports: [80, "8443:443", "127.0.0.1:8080:8080/tcp", "9000-9001:9000-9001", {target: 81, published: 8081}]
    expose: ["82", 83, "84/udp"]
    env_file: web.env
    environment: [A=1, B]
    networks: [front]
    configs: [site, {source: site, target: /etc/site.conf}]
    deploy: {<<: *common, mode: replicated, replicas: 2, resources: {limits: {cpus: "0.5", memory: 64M}}}
    healthcheck: {test: [CMD, "true"], interval: 1m30s}
    x-note: anything
  db:
    image: postgres:15
    env_file: [web.env, {path: web.env}]
    volumes: [data:/var/lib/data, {type: tmpfs, target: /tmp, tmpfs: {size: 1000}}]
    deploy: null
networks: {front: , back: {driver: overlay}}
volumes: {data: }
configs: {site: {file: site.conf}}
"""
    (tmp_path / "web").mkdir()
    profile = load_profile(write(tmp_path, compose))
    assert list(profile.compose["services"]) == ["web", "db"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_an_env_file_that_is_a_fifo_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "web.env")
    code, output = validate(write(tmp_path, WEB + "    env_file: web.env\n"))
    assert code == 2 and "services.web.env_file.0: got 'web.env'" in output and "named pipe (FIFO)" in output


def test_a_config_larger_than_swarm_takes_is_refused(tmp_path):
    (tmp_path / "big.conf").write_bytes(b"x" * (500 * 1024 + 1))
    code, output = validate(write(tmp_path, WEB + "configs: {big: {file: big.conf}}\n"))
    assert code == 2 and "configs.big.file: got 'big.conf'" in output and "larger than 500 KiB" in output


@pytest.mark.parametrize("change, said", [
    ({"compose": "com\x00pose.yml"}, "compose: got 'com\\x00pose.yml': a path has no NUL byte"),
    ({"releases": {"v1": {"web": {"image": "shop/web:1", "build": {"context": "nowhere"}}}}},
     "releases.v1.web.build.context: got 'nowhere': no such directory"),
    ({"load": {"locustfile": "users.py"}}, "load.locustfile: got 'users.py': no such file"),
])
def test_paths_the_profile_names_are_checked_before_anything_starts(tmp_path, change, said):
    code, output = validate(write(tmp_path, WEB, {**PROFILE, **change}))
    assert code == 2 and said in output


@pytest.mark.parametrize("module", ["compose_check", "compose_model"])
def test_the_compose_check_does_not_import_the_profile_model(module):
    tree = ast.parse((Path(harness.app.__file__).parent / f"{module}.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "harness.app.compose_model" in imported or module == "compose_model"  # the walk sees the imports
    assert not {name for name in imported if name and name.startswith(("harness.app.profile", "harness.app.init"))}


def test_a_build_context_the_harness_would_build_from_must_be_a_directory(tmp_path):
    compose = WEB + "    build: web\n  db:\n    image: db:1\n    build: {context: nowhere}\n"
    code, output = validate(write(tmp_path, compose))
    assert code == 2 and "services.db.build.context: got 'nowhere': no such directory beside the compose file" in output
    assert "services.web.build" not in output  # web's image comes from the profile's releases
