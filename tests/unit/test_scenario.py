"""Scenario validation: every error names the file, the key, the bad value and what is allowed."""


import pytest

from harness.errors import ScenarioError
from harness.scenario import load_scenario, parse_duration
from harness.shipped import SCENARIOS as SHIPPED

SCENARIOS = sorted(SHIPPED.glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_is_valid(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem


def test_the_shipped_scenarios_include_both_seed_scenarios():
    assert {"halted-node.yaml", "bad-release-rollback.yaml"} <= {p.name for p in SCENARIOS}


def write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def error_of(path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_a_bad_enum_value_names_file_key_value_and_allowed_values(tmp_path):
    path = write(tmp_path, "name: x\nstrategy:\n  update_config:\n    failure_action: explode\n")
    message = error_of(path)
    assert str(path) in message
    assert "strategy.update_config.failure_action" in message
    assert "'explode'" in message
    assert "'pause', 'continue' or 'rollback'" in message


def test_a_typo_in_a_key_is_an_error_not_ignored(tmp_path):
    message = error_of(write(tmp_path, "name: x\nload:\n  rat: 50\n"))
    assert "load.rat" in message and "unknown key; allowed here: rate, timeout, write_ratio" in message


def test_an_unknown_key_inside_a_list_item_lists_that_item_keys(tmp_path):
    message = error_of(write(tmp_path, "name: x\nfaults:\n  - kind: node-halt\n    when: now\n"))
    assert "faults.0.when" in message and "allowed here: at, duration, kind, params, target" in message


def test_a_bad_duration_says_what_a_duration_looks_like(tmp_path):
    message = error_of(write(tmp_path, "name: x\nphases:\n  warmup: soon\n"))
    assert "phases.warmup" in message and "'soon'" in message and "5s, 500ms or 2m" in message


def test_the_old_version_keys_are_unknown_and_the_message_lists_from_and_to(tmp_path):
    message = error_of(write(tmp_path, "name: x\nstack:\n  to_version: v9\n"))
    assert "stack.to_version" in message and "'v9'" in message
    assert "allowed here: fresh_pull, from, publish_on_upgrade, readiness, registry, replicas, stateful_placement, to" in message


def test_a_release_that_cannot_be_an_image_tag_is_refused(tmp_path):
    message = error_of(write(tmp_path, "name: x\nstack:\n  to: 'v 2'\n"))
    assert "stack.to" in message and "'v 2'" in message and "should match pattern" in message


def test_from_and_to_default_to_the_roles_and_accept_any_release_name(tmp_path):
    from harness.scenario import Scenario

    assert (Scenario(name="x").stack.from_release, Scenario(name="x").stack.to_release) == ("old", "new")
    scenario = load_scenario(write(tmp_path, "name: x\nstack: {from: '1.0', to: broken}\nexpect: {max_downtime: 1s}\n"))
    assert (scenario.stack.from_release, scenario.stack.to_release) == ("1.0", "broken")
    assert scenario.model_dump(mode="json", by_alias=True)["stack"]["from"] == "1.0"
    assert Scenario.model_validate(scenario.model_dump(mode="json", by_alias=True)) == scenario


def test_a_fault_targets_the_upgraded_service_by_default_and_the_old_roles_are_gone(tmp_path):
    scenario = load_scenario(write(tmp_path, "name: x\nfaults:\n  - kind: node-halt\n"))
    assert scenario.faults[0].target.role == "upgraded-worker"
    message = error_of(write(tmp_path, "name: x\nfaults:\n  - kind: node-halt\n    target: {role: db}\n"))
    assert "faults.0.target.role" in message and "'db'" in message and "'stateful'" in message


def test_an_unknown_fault_lists_the_known_faults(tmp_path):
    message = error_of(write(tmp_path, "name: x\nfaults:\n  - kind: meteor\n"))
    assert "faults.0.kind" in message and "'meteor'" in message and "node-halt" in message


def test_fault_parameters_are_checked_against_the_plugin_model(tmp_path):
    message = error_of(write(tmp_path, "name: x\nfaults:\n  - kind: node-halt\n    params: {mode: gently}\n"))
    assert "faults.0.params.mode" in message and "'gently'" in message and "'graceful' or 'forced'" in message


def test_a_target_needs_exactly_one_selector(tmp_path):
    text = "name: x\nfaults:\n  - kind: node-halt\n    target: {node: node2, role: stateful}\n"
    message = error_of(write(tmp_path, text))
    assert "faults.0.target" in message and "exactly one of node, label, role or service" in message
    both = error_of(write(tmp_path, text.replace("role: stateful", "service: db")))
    assert "exactly one of node, label, role or service (got ['node', 'service'])" in both


def test_every_problem_is_reported_at_once(tmp_path):
    message = error_of(write(tmp_path, "name: Bad Name\nload:\n  rate: -1\n"))
    assert "2 problems" in message and "name" in message and "load.rate" in message


def test_invalid_yaml_and_missing_files_are_scenario_errors(tmp_path):
    assert "not valid YAML" in error_of(write(tmp_path, "name: [unclosed\n"))
    assert "cannot read" in error_of(tmp_path / "missing.yaml")
    assert "a scenario is a mapping" in error_of(write(tmp_path, "- just\n- a list\n"))


@pytest.mark.parametrize("text, seconds", [("500ms", 0.5), ("5s", 5.0), ("2m", 120.0), (3, 3.0), ("1.5s", 1.5)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_an_open_strategy_is_resolved_by_the_caller_and_a_fixed_one_is_kept():
    from harness.scenario import Scenario

    open_kind = Scenario(name="x")
    assert open_kind.under(None).strategy.kind == "in-service"
    assert open_kind.under("blue-green").strategy.kind == "blue-green"
    fixed = Scenario(name="x", strategy={"kind": "blue-green"})
    assert fixed.under(None).strategy.kind == "blue-green"
    with pytest.raises(ScenarioError, match="fixes strategy.kind: blue-green; it cannot run under in-service"):
        fixed.under("in-service")
    with pytest.raises(ScenarioError, match="unknown strategy 'canary'"):
        open_kind.under("canary")


def test_a_fault_in_the_rollback_phase_needs_rollback_after(tmp_path):
    text = "name: x\nfaults:\n  - kind: task-kill\n    at: {phase: rollback}\n"
    message = error_of(write(tmp_path, text))
    assert "faults.0.at.phase: got 'rollback'" in message and "strategy.rollback_after" in message
    assert load_scenario(write(tmp_path, text + "strategy: {rollback_after: 5s}\n")).faults[0].at.phase == "rollback"
