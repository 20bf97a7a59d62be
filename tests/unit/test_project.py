"""The user's repository: ``init`` writes ``chaos/`` and never over a file; shipped scenarios by name."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness import __version__
from harness.app import load_profile
from harness.cli import main
from harness.scenario import load_scenario
from harness.shipped import DEMO_PROFILE, SCENARIOS, app_argument, scenario_argument, scenario_names

COMPOSE = """\
services:
  api:
    image: shop/api:1.0
    ports: ["8000:8000"]
  cache:
    image: shop/cache:7
    volumes: ["cachedata:/data"]
volumes:
  cachedata: {}
"""


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A user's repository with a compose file at its top, as the working directory."""
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_the_shipped_scenarios_are_the_package_data_and_each_is_valid():
    names = scenario_names()
    assert {"clean-upgrade", "halted-node", "bad-release-rollback"} <= set(names) and len(names) >= 10
    for name in names:
        assert load_scenario(SCENARIOS / f"{name}.yaml").name == name  # a file's name is its scenario's


def test_scenarios_list_names_each_with_its_description():
    result = invoke("scenarios", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == scenario_names()
    halted = next(line for line in lines if line.startswith("halted-node "))
    assert "halted in the middle of the upgrade" in halted


def test_scenarios_show_prints_the_file_and_an_unknown_name_lists_the_shipped_ones():
    shown = invoke("scenarios", "show", "halted-node")
    assert shown.exit_code == 0 and shown.output == (SCENARIOS / "halted-node.yaml").read_text()
    unknown = invoke("scenarios", "show", "halted-nod")
    assert unknown.exit_code == 2
    assert "'halted-nod' is no shipped scenario" in unknown.output and "halted-node" in unknown.output


def test_scenarios_copy_writes_new_files_only(repo):
    assert invoke("scenarios", "copy", "halted-node", "clean-upgrade", "mine").exit_code == 0
    assert (repo / "mine" / "halted-node.yaml").read_text() == (SCENARIOS / "halted-node.yaml").read_text()
    (repo / "mine" / "halted-node.yaml").write_text("edited")
    again = invoke("scenarios", "copy", "registry-down", "halted-node", "mine")
    assert again.exit_code == 2 and "mine/halted-node.yaml exists; nothing was written" in again.output
    assert (repo / "mine" / "halted-node.yaml").read_text() == "edited"
    assert not (repo / "mine" / "registry-down.yaml").exists()
    both = invoke("scenarios", "copy", "clean-upgrade", "halted-node", "mine")
    assert "mine/clean-upgrade.yaml, mine/halted-node.yaml exist; nothing was written" in " ".join(both.output.split())


def test_a_scenario_argument_is_a_file_else_a_shipped_name_else_exit_2_listing_the_names(repo, monkeypatch):
    (repo / "halted-node.yaml").write_text((SCENARIOS / "clean-upgrade.yaml").read_text())
    assert scenario_argument("halted-node") == SCENARIOS / "halted-node.yaml"
    assert scenario_argument("halted-node.yaml") == Path("halted-node.yaml")  # a file there wins
    assert invoke("validate", "halted-node").exit_code == 0
    by_file = invoke("validate", "halted-node.yaml")
    assert by_file.exit_code == 0 and "halted-node.yaml: valid" in by_file.output
    neither = invoke("validate", "no-such-scenario")
    assert neither.exit_code == 2
    message = " ".join(neither.output.split())
    assert "no-such-scenario: no such file, and no shipped scenario of that name" in message
    assert all(name in message for name in scenario_names())

    def no_cluster(*args, **kwargs):
        raise AssertionError("an unknown scenario is refused before anything starts")

    monkeypatch.setattr("harness.cli.runs.Cluster", no_cluster)
    for command in (["run"], ["matrix"], ["sweep"]):
        assert invoke(*command, "no-such-scenario").exit_code == 2


def test_demo_names_the_shipped_demo_app_unless_a_file_of_that_name_exists(repo):
    assert app_argument("demo") == DEMO_PROFILE
    assert app_argument("shop.yaml") == Path("shop.yaml")  # not there: the profile loader says so
    (repo / "demo").write_text("")
    assert app_argument("demo") == Path("demo")
    assert invoke("validate", "--app", str(DEMO_PROFILE), "halted-node").exit_code == 0


def test_init_writes_the_profile_the_scenarios_a_readme_and_a_workflow(repo):
    result = invoke("init")
    assert result.exit_code == 0, result.output
    chaos = repo / "chaos"
    profile = load_profile(chaos / "app.yaml")  # valid as written, its compose file found from chaos/
    assert profile.model.entry.service == "api" and profile.model.stateful == ["cache"]
    assert sorted(p.stem for p in (chaos / "scenarios").glob("*.yaml")) == scenario_names()
    assert (chaos / "scenarios" / "halted-node.yaml").read_text() == (SCENARIOS / "halted-node.yaml").read_text()
    readme = (chaos / "README.md").read_text()
    assert len(readme.splitlines()) == 3 and "chaos-harness app check chaos/app.yaml" in readme
    workflow = yaml.safe_load((chaos / "chaos-harness.yml").read_text())
    steps = [step.get("run", "") for step in workflow["jobs"]["chaos"]["steps"]]
    assert f'pip install "chaos-harness=={__version__}"' in steps
    assert ("chaos-harness run chaos/scenarios/clean-upgrade.yaml chaos/scenarios/halted-node.yaml "
            "--app chaos/app.yaml --reports reports") in steps


def test_init_takes_a_compose_file_and_a_directory(repo):
    (repo / "deploy").mkdir()
    shutil.move(repo / "compose.yaml", repo / "deploy" / "stack.yml")
    assert invoke("init").exit_code == 2  # no compose file where Compose looks
    result = invoke("init", "deploy/stack.yml", "--dir", "tests/chaos")
    assert result.exit_code == 0, result.output
    assert load_profile(repo / "tests" / "chaos" / "app.yaml").model.compose == "../../deploy/stack.yml"
    assert "--app tests/chaos/app.yaml" in (repo / "tests" / "chaos" / "chaos-harness.yml").read_text()


def test_init_never_overwrites_a_file_and_then_writes_nothing(repo):
    (repo / "chaos" / "scenarios").mkdir(parents=True)
    (repo / "chaos" / "scenarios" / "halted-node.yaml").write_text("mine")
    result = invoke("init")
    assert result.exit_code == 2
    assert "chaos/scenarios/halted-node.yaml exists; nothing was written" in " ".join(result.output.split())
    assert [p.name for p in (repo / "chaos").rglob("*")] == ["scenarios", "halted-node.yaml"]
    assert (repo / "chaos" / "scenarios" / "halted-node.yaml").read_text() == "mine"


def test_init_refuses_a_compose_file_swarm_cannot_deploy_and_writes_nothing(repo):
    (repo / "compose.yaml").write_text("services:\n  api:\n    build: .\n")  # no image to name a release
    result = invoke("init")
    assert result.exit_code == 2
    assert not (repo / "chaos").exists()


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
def test_the_workflow_init_writes_passes_actionlint(repo):
    assert invoke("init").exit_code == 0
    lint = subprocess.run(["actionlint", "-no-color", "chaos/chaos-harness.yml"], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_a_name_too_long_for_a_file_is_neither_and_exit_2():
    result = invoke("validate", "x" * 300)
    assert result.exit_code == 2 and "no such file, and no shipped scenario" in " ".join(result.output.split())
    assert app_argument("x" * 300) == Path("x" * 300)
