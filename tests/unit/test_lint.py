"""chaos-harness lint: each rule on the smallest stack that has its pitfall, and on one that does not; where it
points; its outputs (SARIF checked against the SARIF 2.1.0 schema's model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.app.profile import load_profile
from harness.cli import main
from harness.lint import lint
from harness.lint.facts import dockerfile_health, go_seconds, rounded
from harness.lint.registry import available

HEALTHY = {"test": ["CMD", "true"], "interval": "2s", "retries": 2}
WEB = {"image": "shop/web:1", "deploy": {"replicas": 3, "update_config": {"failure_action": "rollback",
                                                                          "monitor": "10s"}},
       "healthcheck": HEALTHY}
DB = {"image": "postgres:15", "volumes": ["data:/var/lib/postgresql/data"],
      "deploy": {"placement": {"constraints": ["node.labels.db == true"]}}}


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in, mapping into mapping; None removes a key."""
    result = dict(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def swarm_stack(tmp_path: Path, web: dict | None = None, db: dict | None = None) -> Path:
    """A compose file of web (upgraded) and db (stateful) with the changes given, and its profile."""
    compose = {"services": {"web": merged(WEB, web or {}), "db": merged(DB, db or {})}, "volumes": {"data": {}}}
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    return _profile(tmp_path, compose="compose.yml")


def deployment(name: str, **spec) -> dict:
    container = {"name": name, "image": f"shop/{name}:1", "ports": [{"containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}}
    pod = {"containers": [merged(container, spec.pop("container", {}))], **spec.pop("pod", {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": merged({"replicas": 3, "selector": {"matchLabels": {"app": name}},
                            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                            "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}, spec)}


BUDGET = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
          "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}
CLAIMED = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
           "tolerations": [{"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": 30} for k in ("not-ready", "unreachable")]}


def kube_stack(tmp_path: Path, web: dict | None = None, db: dict | None = None, budget: bool = True) -> Path:
    """Manifests of web (upgraded) and db (stateful) with the changes given (and web's PodDisruptionBudget), and
    their profile."""
    objects = [merged(deployment("web"), web or {}), merged(deployment("db", replicas=1, pod=CLAIMED), db or {})]
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "app.yaml").write_text(yaml.safe_dump_all(objects + [BUDGET] * budget, sort_keys=False))
    return _profile(tmp_path, kubernetes={"manifests": "k8s"})


def _profile(tmp_path: Path, **form) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump({"name": "shop", **form, "releases": {"1": {"web": "shop/web:1"},
                                                                          "2": {"web": "shop/web:2"}},
                                    "entry": {"service": "web", "port": 8080}, "stateful": ["db"]}))
    return path


def rules_found(path: Path, engine: str) -> set[str]:
    return {finding.rule for finding in lint(load_profile(path), [engine])}


SWARM_CASES = {  # rule: (changes to web, changes to db) that have its pitfall
    "swarm-no-healthcheck": ({"healthcheck": None}, {}),
    "swarm-failure-action-continue": ({"deploy": {"update_config": {"failure_action": "continue"}}}, {}),
    "swarm-stop-first-single-replica": ({"deploy": {"replicas": 1}}, {}),
    "swarm-update-all-at-once": ({"deploy": {"update_config": {"parallelism": 0}}}, {}),
    "swarm-failure-action-pause": ({"deploy": {"update_config": {"failure_action": None}}}, {}),
    "swarm-stateful-without-placement": ({}, {"deploy": {"placement": None}}),
}
KUBERNETES_CASES = {  # rule: (changes to web, changes to db, with web's PodDisruptionBudget)
    "kubernetes-no-readiness-probe": ({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "shop/web:1", "ports": [{"containerPort": 8080}]}]}}}}, {}, True),
    "kubernetes-rollout-takes-every-pod": ({"spec": {"replicas": 1, "strategy": {"rollingUpdate": {
        "maxSurge": "0%", "maxUnavailable": "25%"}}, "template": {"spec": {"tolerations": CLAIMED["tolerations"]}}}},
        {}, True),
    "kubernetes-no-disruption-budget": ({}, {}, False),
    "kubernetes-stateful-without-claim": ({}, {"spec": {"template": {"spec": {"volumes": [
        {"name": "data", "emptyDir": {}}]}}}}, True),
    "kubernetes-single-replica-toleration": ({"spec": {"replicas": 1}}, {}, True),
}


def test_a_stack_without_pitfalls_has_no_finding_but_the_deadline_note_kubernetes_gives_every_deployment(tmp_path):
    assert rules_found(swarm_stack(tmp_path), "swarm") == set()
    assert rules_found(kube_stack(tmp_path), "kubernetes") == {"kubernetes-progress-deadline-without-undo"}


@pytest.mark.parametrize("rule", SWARM_CASES)
def test_each_swarm_rule_finds_its_pitfall_and_only_it(tmp_path, rule):
    web, db = SWARM_CASES[rule]
    assert rules_found(swarm_stack(tmp_path, web, db), "swarm") == {rule}


@pytest.mark.parametrize("rule", KUBERNETES_CASES)
def test_each_kubernetes_rule_finds_its_pitfall_and_only_it(tmp_path, rule):
    web, db, budget = KUBERNETES_CASES[rule]
    found = rules_found(kube_stack(tmp_path, web, db, budget), "kubernetes")
    assert found - {"kubernetes-progress-deadline-without-undo"} == {rule}


def test_every_shipped_rule_has_a_case_here_and_a_proof_a_reference_and_its_reasoning():
    assert set(available()) == set(SWARM_CASES) | set(KUBERNETES_CASES) | {"kubernetes-progress-deadline-without-undo"}
    for rule in available().values():
        assert rule.reference.startswith("https://") and rule.proof.scenario and rule.__doc__


def test_a_finding_points_at_the_line_of_its_key_or_of_the_deepest_key_there(tmp_path):
    path = swarm_stack(tmp_path, {"deploy": {"update_config": {"failure_action": "continue"}}},
                       {"deploy": {"placement": None}})
    found = {f.rule: f.location for f in lint(load_profile(path), ["swarm"])}
    lines = (tmp_path / "compose.yml").read_text().splitlines()
    action = found["swarm-failure-action-continue"]
    assert action.key == "services.web.deploy.update_config.failure_action"
    assert "failure_action: continue" in lines[action.line - 1]
    placement = found["swarm-stateful-without-placement"]  # no placement key: its deploy
    assert placement.key == "services.db.deploy.placement" and lines[placement.line - 1].strip().startswith("deploy:")


def test_the_health_check_comes_from_the_compose_file_else_from_the_dockerfile_the_image_is_built_from(tmp_path):
    assert dockerfile_health("FROM x\nHEALTHCHECK --interval=2s --start-period=1m30s \\\n  --retries=4 CMD true\n")
    assert not dockerfile_health("FROM x\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n")
    assert go_seconds("1m30s") == 90 and go_seconds("500ms") == 0.5
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM x\nHEALTHCHECK --interval=30s CMD true\n")
    assert rules_found(swarm_stack(tmp_path, {"healthcheck": None, "build": "web"}), "swarm") == set()
    timed = swarm_stack(tmp_path, {"healthcheck": {"interval": "1s"}, "build": "web"})  # the image's, retimed
    assert rules_found(timed, "swarm") == set()
    (tmp_path / "web" / "Dockerfile").write_text("FROM x\nHEALTHCHECK NONE\n")
    without = swarm_stack(tmp_path, {"healthcheck": None, "build": "web"})
    assert rules_found(without, "swarm") == {"swarm-no-healthcheck"}
    disabled = swarm_stack(tmp_path, {"healthcheck": {"disable": True}, "build": "web"})
    assert rules_found(disabled, "swarm") == {"swarm-no-healthcheck"}


def test_shares_are_rounded_as_kubernetes_rounds_them():
    assert [rounded("25%", 3, up=True), rounded("25%", 3, up=False), rounded("25%", 1, up=False)] == [1, 0, 0]
    assert rounded(2, 3, up=False) == 2


def test_lint_exits_1_on_a_finding_as_severe_as_fail_on_and_writes_json_and_markdown(tmp_path):
    path = swarm_stack(tmp_path, {"deploy": {"update_config": {"failure_action": None}}})  # a warning only
    runner = CliRunner()
    assert runner.invoke(main, ["lint", str(path)]).exit_code == 0
    failed = runner.invoke(main, ["lint", str(path), "--fail-on", "warning", "--format", "json"])
    assert failed.exit_code == 1
    document = json.loads(failed.output)
    assert document["schema"] == "chaos-harness/lint@1" and document["engines"] == ["swarm"]
    assert [f["rule"] for f in document["findings"]] == ["swarm-failure-action-pause"]
    assert document["findings"][0]["proof"]["scenario"] == "bad-release-rollback"
    markdown = runner.invoke(main, ["lint", str(path), "--format", "markdown"]).output
    assert "| warning | `swarm-failure-action-pause` |" in markdown
    only = runner.invoke(main, ["lint", str(path), "--rule", "swarm-no-healthcheck", "--fail-on", "warning"])
    assert (only.exit_code, only.output.strip()) == (0, "no upgrade pitfalls found")
    unknown = runner.invoke(main, ["lint", str(path), "--rule", "swarm-no-such-rule"])
    assert unknown.exit_code == 2 and "--rule swarm-no-such-rule: no such rule; the rules: " in unknown.output


def test_the_sarif_log_is_valid_sarif_2_1_0_with_each_finding_on_its_line(tmp_path, monkeypatch):
    from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as SarifLog

    path = swarm_stack(tmp_path, {"deploy": {"update_config": {"failure_action": "continue"}}})
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, ["lint", str(path), "--format", "sarif", "--output", "lint.sarif"])
    assert done.exit_code == 1, done.output
    log = json.loads((tmp_path / "lint.sarif").read_text())
    SarifLog.model_validate(log)
    (result,) = log["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "compose.yml", "uriBaseId": "SRCROOT"}
    line = (tmp_path / "compose.yml").read_text().splitlines()[location["region"]["startLine"] - 1]
    assert "failure_action: continue" in line
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "swarm-failure-action-continue"
    with pytest.raises(ValueError):
        SarifLog.model_validate({**log, "version": "2.0.0"})  # the validator refuses what is no SARIF 2.1.0


def test_each_proof_is_a_valid_scenario_file_with_the_users_settings_and_its_fixed_variant_the_fix(tmp_path):
    from harness.lint.prove import trials
    from harness.scenario import load_scenario

    path = swarm_stack(tmp_path, {"deploy": {"replicas": 1, "update_config": {"order": "stop-first"}}})
    (trial,) = trials(lint(load_profile(path), ["swarm"]), tmp_path / "lint")
    proof, fixed = load_scenario(trial.scenario), load_scenario(trial.fixed)
    assert trial.finding.rule == "swarm-stop-first-single-replica"
    assert proof.name == "swarm-stop-first-single-replica-web"
    assert proof.stack.replicas == 1 and proof.strategy.update_config.order == "stop-first"
    assert proof.strategy.update_config.monitor == 10 and proof.expect.max_longest_outage == 1  # the user's; no outage
    assert fixed.strategy.update_config.order == "start-first" and fixed.stack.replicas == 1


def test_phases_given_on_the_command_line_are_those_of_the_proof_and_of_its_fixed_variant(tmp_path):
    from harness.lint.prove import trials
    from harness.scenario import load_scenario

    path = swarm_stack(tmp_path, {"deploy": {"replicas": 1, "update_config": {"order": "stop-first"}}})
    (trial,) = trials(lint(load_profile(path), ["swarm"]), tmp_path / "lint",
                      {"warmup": "3s", "observe": "6s", "upgrade": "30s"})
    for scenario in (load_scenario(trial.scenario), load_scenario(trial.fixed)):
        assert (scenario.phases.warmup, scenario.phases.observe, scenario.strategy.timeout) == (3, 6, 30)
    refused = CliRunner().invoke(main, ["lint", str(path), "--prove", "--phase", "settle=5s"])
    assert refused.exit_code == 2 and "NAME one of warmup, observe, verify_window, upgrade" in refused.output


def test_a_proof_is_reproduced_when_its_run_shows_the_effect_and_the_fix_when_its_variant_does_not(tmp_path):
    from harness.lint.output import proofs_html, proofs_markdown
    from harness.lint.prove import prove, trials

    path = swarm_stack(tmp_path, {"deploy": {"replicas": 1}}, {"deploy": {"placement": None}})
    planned = trials(lint(load_profile(path), ["swarm"]), tmp_path / "lint")
    assert sorted(t.finding.rule for t in planned) == ["swarm-stateful-without-placement",
                                                        "swarm-stop-first-single-replica"]

    def report(failed: int, lost: int) -> dict:
        return {"load": {"failed": failed, "samples": 500}, "downtime": failed / 50, "longest_outage": failed / 50,
                "upgrade": {"outcome": "completed"}, "writes": {"measured": True, "lost": lost}}

    observed = {"swarm-stop-first-single-replica-web": report(37, 0),  # an outage, as predicted
                "swarm-stop-first-single-replica-web-fixed": report(0, 0),
                "swarm-stateful-without-placement-db": report(0, 0),  # no write lost: not reproduced
                "swarm-stateful-without-placement-db-fixed": None}  # failed before it reported
    proven = {p.finding.rule: p for p in prove(planned, lambda file: (tmp_path / file.stem, observed[file.stem]))}
    stop_first, placement = proven["swarm-stop-first-single-replica"], proven["swarm-stateful-without-placement"]
    assert (stop_first.reproduced, stop_first.fix_removed) == (True, True)
    assert (placement.reproduced, placement.fix_removed) == (False, None)
    table = proofs_markdown(list(proven.values()), tmp_path)
    assert "37 of 500 requests failed, downtime 0.74s" in table and "| reproduced | the effect is gone" in table
    assert "not reproduced on this stack" in table and "no report" in table
    page = proofs_html(list(proven.values()), tmp_path, "lint --prove: shop on swarm")
    assert '<a href="swarm-stop-first-single-replica-web/report.html">' in page and "the effect is gone" in page


def test_a_finding_in_a_chart_points_at_the_template_that_makes_the_object_and_its_keys_line():
    guestbook = load_profile(Path(__file__).parents[2] / "examples" / "guestbook" / "guestbook.yaml")
    found = {f.rule: f.location for f in lint(guestbook, ["kubernetes"])}
    probe = found["kubernetes-no-readiness-probe"]
    assert probe.file.endswith("chart/templates/app.yaml") and probe.key.startswith("Deployment/app: ")
    lines = Path(probe.file).read_text().splitlines()
    assert lines[probe.line - 1].strip() == "containers:"  # no probe there: the containers it belongs in


@pytest.mark.parametrize("rule", [*SWARM_CASES, *KUBERNETES_CASES])
def test_every_rules_proof_and_fixed_variant_are_scenarios_the_harness_runs(tmp_path, rule):
    from harness.lint.prove import trials
    from harness.scenario import load_scenario

    if rule in SWARM_CASES:
        path, engine = swarm_stack(tmp_path, *SWARM_CASES[rule]), "swarm"
    else:
        path, engine = kube_stack(tmp_path, *KUBERNETES_CASES[rule]), "kubernetes"
    (trial,) = trials(lint(load_profile(path), [engine], [rule]), tmp_path / "lint")
    proof = load_scenario(trial.scenario)  # valid: keys, contradictions, faults
    assert proof.name.startswith(rule) and rule in proof.description
    assert proof.strategy.kind is not None  # a run needs its strategy (a shipped scenario may leave it open)
    assert (trial.fixed is None) == (available()[rule].proof.fix == "")  # a fixed variant where the fix is applied
    if trial.fixed is not None:
        assert load_scenario(trial.fixed).model_dump(exclude={"name", "description"}) != proof.model_dump(
            exclude={"name", "description"})


def test_an_outage_is_a_second_without_an_answer_or_one_percent_failed_not_a_lone_timeout():
    """On the demo, lint --prove judged a single timed-out request (1 of 2,060) an outage of a rollout without a
    readiness probe, although the harness had made the image's HEALTHCHECK its probe: now it is not one."""
    from harness.lint.prove import EFFECTS

    def report(failed: int, samples: int, longest: float) -> dict:
        return {"load": {"failed": failed, "samples": samples}, "longest_outage": longest, "downtime": longest}

    outage = EFFECTS["outage"].shown
    assert not outage(report(1, 2060, 0.02)) and not outage(report(10, 2566, 0.16))  # the demo's proofs
    assert outage(report(176, 3916, 3.5)) and outage(report(30, 2000, 0.6))  # a halted node; 1.5 % failed

