"""An app's PodDisruptionBudget is deployed as it is: into the harness's namespace, its selector untouched, on blue
and (a copy: a budget counts its own namespace's pods only) on green."""

from __future__ import annotations

import copy
from pathlib import Path

from harness.app import load_profile
from harness.engine.kubernetes.engine import KubernetesEngine, _in_namespace
from harness.engine.kubernetes.translate import claims_on_host
from harness.stack import manifests
from harness.stack.compose import StackOptions
from harness.stack.manifests import SLOT
from tests.unit.test_kubernetes_manifests import DB, OPTIONS, WEB, write

BUDGET = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
          "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
          "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}}
EXAMPLES = Path(__file__).parents[2] / "examples"


def budgets(objects) -> list[dict]:
    return [o for o in objects if o["kind"] == "PodDisruptionBudget"]


def test_a_budget_is_neither_left_out_nor_refused_and_blue_deploys_it_in_the_stacks_namespace(tmp_path):
    profile = load_profile(write(tmp_path, WEB, DB, BUDGET))
    assert not any("PodDisruptionBudget/web" in w and "namespace" not in w for w in profile.warnings)
    (rendered,) = budgets(manifests.blue(profile, "1.1", OPTIONS).manifests)
    (deployed,) = budgets(_in_namespace("chaos", body, ()) for body in claims_on_host("chaos", [rendered]))
    assert deployed["metadata"]["namespace"] == "chaos"
    assert deployed["spec"] == BUDGET["spec"]  # the selector and the budget untouched
    assert BUDGET["metadata"]["namespace"] == "shop"  # the profile's object untouched


def test_green_carries_its_own_copy_of_the_budget_for_its_own_pods(tmp_path):
    profile = load_profile(write(tmp_path, WEB, DB, BUDGET))
    (copied,) = budgets(manifests.green(profile, "1.1", OPTIONS).manifests)
    assert "namespace" not in copied["metadata"] and copied["spec"] == BUDGET["spec"]
    web = next(o for o in manifests.green(profile, "1.1", OPTIONS).manifests if o["kind"] == "Deployment")
    selected = copied["spec"]["selector"]["matchLabels"].items()
    assert selected <= web["spec"]["template"]["metadata"]["labels"].items()  # it counts green's web pods


def test_a_profile_without_a_budget_gets_none(tmp_path):
    profile = load_profile(write(tmp_path, copy.deepcopy(WEB), DB))
    assert budgets(manifests.blue(profile, "1.1", OPTIONS).manifests) == []
    assert budgets(manifests.green(profile, "1.1", OPTIONS).manifests) == []


def test_the_demo_with_a_budget_is_the_demo_plus_its_budget():
    """examples/demo-pdb: the demo's own manifests and one budget, so that node-drain on both profiles differs by
    the budget alone."""
    demo, guarded = (load_profile(path) for path in (Path(manifests.__file__).parents[1] / "shipped" / "apps" /
                                                      "demo.yaml", EXAMPLES / "demo-pdb" / "demo-pdb.yaml"))
    (budget,) = budgets(guarded.manifests)
    assert [o for o in guarded.manifests if o is not budget] == list(demo.manifests)
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "demo", "app.kubernetes.io/component": "web"}}}


SWITCH = StackOptions(registry="registry:5000", replicas=3, form="kubernetes", discovery=KubernetesEngine.discovery,
                      switch_nodes=(("node1", "172.30.0.11"), ("node2", "172.30.0.12")))


def test_service_switch_gives_each_slot_its_own_budget_of_the_upgraded_pods(tmp_path):
    """Both slots' pods live in one namespace there: one budget would count six pods, and could let every pod of the
    live slot go while the idle slot's keep the count."""
    profile = load_profile(write(tmp_path, WEB, DB, BUDGET))
    rendered = manifests.switch_green(profile, "1.0", "1.1", SWITCH)
    found = {o["metadata"]["name"]: o["spec"]["selector"]["matchLabels"] for o in budgets(rendered.manifests)}
    assert found == {"web": {"app": "web", SLOT: "blue"}, "web-green": {"app": "web", SLOT: "green"}}
    pods = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in rendered.manifests
            if o["kind"] == "Deployment"}
    assert found["web-green"].items() <= pods["web-green"].items() and found["web"].items() <= pods["web"].items()
    assert not found["web"].items() <= pods["web-green"].items()  # blue's never counts green's


def test_under_service_switch_a_budget_that_also_guards_other_pods_is_left_as_it_is(tmp_path):
    shared = {"part-of": "shop"}
    web, db = copy.deepcopy(WEB), copy.deepcopy(DB)
    for workload in (web, db):
        workload["spec"]["template"]["metadata"]["labels"].update(shared)
    wide = {**BUDGET, "spec": {"minAvailable": 2, "selector": {"matchLabels": shared}}}
    profile = load_profile(write(tmp_path, web, db, wide))
    (kept,) = budgets(manifests.switch_green(profile, "1.0", "1.1", SWITCH).manifests)
    assert kept["metadata"]["name"] == "web" and kept["spec"] == wide["spec"]
