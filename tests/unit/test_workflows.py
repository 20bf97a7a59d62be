"""The workflows and the action: actionlint passes on each (the action's steps too), and the action's own shell
steps run as a runner would run them, against a stand-in for chaos-harness.

actionlint is found on PATH or in Go's bin directory (``scripts/go.sh test`` builds it there); without it the
lint tests are skipped, never passed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.cli import EXIT_BROKE, EXIT_INTERRUPTED
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
CONFIG = ROOT / ".github" / "actionlint.yaml"


def actionlint() -> str | None:
    """The actionlint binary: on PATH, else in Go's bin directory ($GOPATH/bin, ~/go/bin)."""
    gopath = Path(os.environ.get("GOPATH", Path.home() / "go"))
    for candidate in (shutil.which("actionlint"), gopath / "bin" / "actionlint", Path.home() / "go/bin/actionlint"):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


@pytest.fixture(scope="module")
def lint():
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (scripts/go.sh test builds it into ~/go/bin)")

    def run(*files: Path) -> subprocess.CompletedProcess:
        return subprocess.run([binary, "-no-color", "-config-file", str(CONFIG), *map(str, files)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
    return run


def action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def steps_as_workflow(document: dict) -> dict:
    """The action's steps as a workflow's job, its inputs as the workflow's: actionlint checks a composite
    action's metadata only, so its steps (expressions, shell scripts with shellcheck) are checked so."""
    inputs = {name: {"description": spec["description"], "type": "string", "default": spec.get("default", "")}
              for name, spec in document["inputs"].items()}
    return {"name": "action-steps", "on": {"workflow_call": {"inputs": inputs}},
            "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": document["runs"]["steps"]}}}


class _Blocks(yaml.SafeDumper):
    """Scripts as YAML blocks, so that actionlint's line numbers point into them."""


_Blocks.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def write_workflow(directory: Path, document: dict) -> Path:
    path = directory / ".github" / "workflows" / "action-steps.yml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.dump(document, Dumper=_Blocks, sort_keys=False, width=200))
    return path


def test_actionlint_passes_on_every_workflow_and_the_action_they_use(lint):
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {path.name for path in workflows} >= {"nightly-chaos.yml", "sharded-matrix.yml"}
    result = lint(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all("uses: ./" in path.read_text() for path in workflows)  # so actionlint reads action.yml too


def test_actionlint_passes_on_the_actions_steps(lint, tmp_path):
    result = lint(write_workflow(tmp_path, steps_as_workflow(action())))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_on_a_step_that_names_an_input_the_action_lacks(lint, tmp_path):
    document = action()
    document["runs"]["steps"].append({"shell": "bash", "run": "echo ${{ inputs.scenario }}"})
    result = lint(write_workflow(tmp_path, steps_as_workflow(document)))
    assert result.returncode == 1
    assert 'property "scenario" is not defined' in result.stdout


def test_the_action_names_every_exit_code_the_harness_gives():
    verdict = next(step for step in action()["runs"]["steps"] if step.get("id") == "verdict")["run"]
    errors = [error for error in _subclasses(HarnessError) if error.__module__.startswith("harness.")]
    codes = {0, 1, EXIT_BROKE, EXIT_INTERRUPTED, *(error.exit_code for error in errors)}
    assert [code for code in sorted(codes) if f"\n  {code}) outcome=" not in verdict] == []


def test_every_input_of_the_action_is_used_by_a_step():
    document = action()
    text = yaml.safe_dump(document["runs"]) + yaml.safe_dump(document["outputs"])
    assert [name for name in document["inputs"] if f"inputs.{name}" not in text] == []


# -- the action's shell steps, run as a runner runs them ----------------------------------------------------------

STAND_IN = """#!/usr/bin/env bash
# chaos-harness as the action calls it: its arguments noted, a run directory made, the exit code asked for
echo "$*" >> "$CALLS"
reports=""; while [ $# -gt 0 ]; do case "$1" in --reports|--output) reports=$2; shift ;; esac; shift; done
if [ -n "$reports" ]; then
  mkdir -p "$reports/20270101T000000Z-sc-in-service"
  printf '### sc under in-service: PASSED\\n' > "$reports/20270101T000000Z-sc-in-service/summary.md"
fi
exit "${EXIT_WITH:-0}"
"""


@pytest.fixture
def runner(tmp_path):
    """Runs one of the action's steps (by id) with bash as a runner does, the stand-in first on PATH; the step's
    outputs, the job summary and the stand-in's calls are returned."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "chaos-harness"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    steps = {step.get("id"): step for step in action()["runs"]["steps"]}

    def run(step_id: str, env: dict[str, str]) -> dict:
        files = {name: tmp_path / name for name in ("output", "summary", "calls")}
        for path in files.values():
            path.write_text("")
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps[step_id]["run"]],
            capture_output=True, text=True, cwd=tmp_path, timeout=30,
            env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "RUNNER_TEMP": str(tmp_path),
                 "GITHUB_OUTPUT": str(files["output"]), "GITHUB_STEP_SUMMARY": str(files["summary"]),
                 "CALLS": str(files["calls"]), "REPORTS": "reports", "CLUSTER": "chaos", **env})
        outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines())
        return {"code": result.returncode, "stdout": result.stdout, "outputs": outputs,
                "summary": files["summary"].read_text(), "calls": files["calls"].read_text().splitlines()}
    return run


def test_the_run_step_builds_each_command_line_and_keeps_the_exit_code(runner):
    run = runner("chaos", {"COMMAND": "run", "SCENARIOS": "halted-node\nclean-upgrade", "STRATEGIES": "blue-green",
                           "PROFILE": "chaos/app.yaml", "ARGS": "--json", "EXIT_WITH": "1"})
    assert (run["code"], run["outputs"]) == (0, {"exit-code": "1"})
    assert run["calls"] == ["--cluster chaos run halted-node clean-upgrade --app chaos/app.yaml --strategy "
                            "blue-green --reports reports --json"]
    matrix = runner("chaos", {"COMMAND": "matrix", "SCENARIOS": "a b", "REPEAT": "3", "PROFILE": "demo,x.yaml"})
    assert matrix["calls"] == ["--cluster chaos matrix a b --repeat 3 --apps demo,x.yaml --reports reports"]
    sweep = runner("chaos", {"COMMAND": "sweep", "SCENARIOS": "halted-node", "REPEAT": "1", "ARGS": "--points 3"})
    assert sweep["calls"] == ["--cluster chaos sweep halted-node --repeat 1 --reports reports --points 3"]


def test_lint_writes_the_sarif_file_for_code_scanning_then_the_findings_whose_verdict_the_step_keeps(runner):
    lint = runner("chaos", {"COMMAND": "lint", "PROFILE": "chaos/app.yaml", "ARGS": "--prove", "EXIT_WITH": "1"})
    assert (lint["code"], lint["outputs"]) == (0, {"exit-code": "1"})
    assert lint["calls"] == [
        "lint chaos/app.yaml --format sarif --output reports/lint.sarif --fail-on never",
        "--cluster chaos lint chaos/app.yaml --format markdown --output reports/lint.md --reports reports --prove"]
    assert runner("chaos", {"COMMAND": "lint"})["calls"][0].startswith("lint demo --format sarif")


def test_the_run_step_refuses_what_the_command_cannot_take_with_exit_2_and_an_error(runner):
    for env, message in (({"COMMAND": "run", "SCENARIOS": "a", "STRATEGIES": "in-service,blue-green"},
                          "run takes one strategy"),
                         ({"COMMAND": "sweep", "SCENARIOS": "a b"}, "sweep takes exactly one scenario, got 2"),
                         ({"COMMAND": "deploy", "SCENARIOS": "a"}, "command must be run, matrix, sweep, compare or lint"),
                         ({"COMMAND": "compare", "RUNS": "shards/*/*/"}, "no run directory matches 'shards/*/*/'")):
        result = runner("chaos", env)
        assert (result["outputs"], result["calls"]) == ({"exit-code": "2"}, [])
        assert f"::error title=chaos-harness action::{message}" in result["stdout"]


def test_the_compare_step_expands_the_patterns_into_the_run_directories(runner, tmp_path):
    for machine in ("runs-a", "runs-b"):
        (tmp_path / "shards" / machine / f"t-{machine}").mkdir(parents=True)
    result = runner("chaos", {"COMMAND": "compare", "RUNS": "shards/*/*/"})
    (call,) = result["calls"]
    assert call.startswith("--cluster chaos compare shards/runs-a/t-runs-a/ shards/runs-b/t-runs-b/ --output "
                           "reports/compare-")


@pytest.mark.parametrize(("code", "outcome", "annotation"), [
    ("0", "passed", None),
    ("1", "failed", "::error title=chaos-harness: expectations failed::exit 1: an expectation failed"),
    ("3", "harness-error", "::error title=chaos-harness: harness error (exit 3)::an environment or cluster problem"),
    ("4", "harness-error", "::error title=chaos-harness: harness error (exit 4)::the harness broke (a bug)"),
])
def test_the_verdict_tells_a_failed_expectation_from_a_harness_error(runner, code, outcome, annotation):
    made = runner("chaos", {"COMMAND": "run", "SCENARIOS": "sc"})  # makes reports/<run>/summary.md after the mark
    assert made["outputs"] == {"exit-code": "0"}
    verdict = runner("verdict", {"CODE": code, "COMMAND": "run"})
    assert verdict["outputs"] == {"outcome": outcome}
    assert (annotation is None and "::error" not in verdict["stdout"]) or annotation in verdict["stdout"]
    assert verdict["summary"].startswith(f"## chaos-harness run: {outcome} (exit {code}: ")
    assert "### sc under in-service: PASSED" in verdict["summary"]


def _subclasses(base: type) -> list[type]:
    return [sub for child in base.__subclasses__() for sub in (child, *_subclasses(child))]
