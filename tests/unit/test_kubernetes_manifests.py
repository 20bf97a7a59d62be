"""An app given as Kubernetes objects: rendered, checked before anything starts, and what the harness changes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.app import DEFAULT_PROFILE, load_profile
from harness.app.images import base_containers
from harness.app.manifests import _set
from harness.engine.kubernetes.engine import _CENSUS, _KILL, KubernetesEngine, _in_namespace
from harness.engine.kubernetes.translate import UPGRADED_CONTAINER, claims_on_host
from harness.errors import EnvironmentProblem, ProfileError
from harness.stack import manifests
from harness.stack.compose import StackOptions
from harness.stack.from_spec import form_for
from harness.stack.prepare import restarting_at_once

EXAMPLES = Path(__file__).parents[2] / "examples"
OPTIONS = StackOptions(registry="registry:5000", replicas=4, form="kubernetes", discovery=KubernetesEngine.discovery)


def deployment(name: str, containers: dict[str, str], ports=(), **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, **spec,
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                         {"name": c, "image": image, "ports": [{"containerPort": p} for p in ports]}
                         for c, image in containers.items()]}}}}


WEB = deployment("web", {"web": "shop/web:1"}, ports=[8080])
DB = {**deployment("db", {"postgres": "postgres:15"}), "kind": "StatefulSet"}
PROFILE = {"name": "shop", "kubernetes": {"manifests": "k8s"},
           "releases": {"1.0": {"web": "shop/web:1"}, "1.1": {"web": "shop/web:2"}},
           "entry": {"service": "web", "port": 8080}, "stateful": ["db"]}


def write(tmp_path, *objects, **changes) -> Path:
    """A profile (PROFILE with ``changes``) and its manifests (one file) in tmp_path; the profile's path."""
    (tmp_path / "k8s").mkdir(exist_ok=True)
    (tmp_path / "k8s" / "app.yaml").write_text(yaml.safe_dump_all(objects or (WEB, DB), sort_keys=False))
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump({**PROFILE, **changes}, sort_keys=False))
    return path


def problems_of(path) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return str(caught.value)


def test_a_profile_may_give_the_app_as_manifests_only(tmp_path):
    profile = load_profile(write(tmp_path))
    assert profile.forms == ("kubernetes",) and profile.compose == {}
    assert profile.services == ("web", "db") and profile.upgraded == ("web",)
    assert base_containers(profile) == {"db/postgres": "postgres:15"}  # pushed under the stack tag


def test_the_demo_and_both_examples_give_compose_and_kubernetes_forms():
    demo = load_profile(DEFAULT_PROFILE)
    guestbook, itemstore = (load_profile(EXAMPLES / name / f"{name}.yaml") for name in ("guestbook", "itemstore"))
    assert demo.forms == guestbook.forms == itemstore.forms == ("compose", "kubernetes")
    kinds = {profile.name: sorted(f"{o['kind']}/{o['metadata']['name']}" for o in profile.manifests)
             for profile in (demo, guestbook, itemstore)}
    assert "StatefulSet/db" in kinds["guestbook"] and "Secret/guestbook-db" in kinds["guestbook"]  # helm template
    assert any(k.startswith("ConfigMap/itemstore-db-") for k in kinds["itemstore"])  # kustomize's generator


@pytest.mark.parametrize("changes, objects, expected", [
    ({"kubernetes": {"manifests": "k8s", "chart": "c"}}, (), "give exactly one of manifests, kustomize or chart"),
    ({"kubernetes": {"manifests": "k8s", "values": ["v.yaml"]}}, (), "values, set and release are a chart's"),
    ({"kubernetes": {"manifests": "k8s", "release": "shop"}}, (), "values, set and release are a chart's"),
    ({"kubernetes": {"chart": "c", "release": "Shop_1"}}, (), "kubernetes.release: got 'Shop_1'"),
    ({"kubernetes": None}, (), "name the app's compose file (compose), its Kubernetes objects (kubernetes), or both"),
    ({"kubernetes": {"manifests": "nowhere"}}, (), "kubernetes.manifests: got 'nowhere': no such directory"),
    ({}, (WEB, DB, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}}),
     "ClusterRole/x: the harness deploys namespaced objects only"),
    ({}, (WEB, DB, WEB), "Deployment/web is given twice"),
    ({}, (WEB, DB, ["not", "an", "object"]), "a document is list, not an object"),
    ({}, (WEB, DB, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": "name: data"}),
     "PersistentVolumeClaim (no metadata.name): metadata: got 'name: data': Input should be a valid dictionary"),
    ({"releases": {"1": {"db": "postgres:15"}}, "entry": {"service": "db", "port": 5432}}, (),
     "releases.1.db: got 'db': the manifests have no Deployment of that name"),
    ({}, (deployment("web", {"proxy": "envoy:1", "app": "shop/web:1"}), DB),
     "Deployment web runs the containers proxy, app: the harness upgrades one"),
    ({"entry": {"service": "web", "port": 9000}}, (), "entry.port: got 9000: Deployment web's containers declare "
                                                     "the ports 8080"),
    ({"stateful": ["cache"]}, (), "stateful.0: got 'cache': the manifests have no such workload"),
    ({}, (deployment("web", {"web": "shop/web:1"}, ports=[8080], replicas="3"), DB),
     "Deployment/web: spec.replicas: got '3': Input should be a valid integer"),
    ({}, (deployment("web", {"web": "shop/web:1"}, ports=[8080], strategy={"rollingUpdate": {"maxSurge": "a lot"}}),
          DB), "spec.strategy.rollingUpdate.maxSurge: got 'a lot': a count of pods (0 or more) or a share of the "
               "replicas such as 25%"),
    ({}, (WEB, DB, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "b"},
                    "spec": {"selector": {"matchLabels": "web"}}}), "PodDisruptionBudget/b: spec.selector.matchLabels"),
])
def test_what_makes_manifests_unusable_is_named_before_anything_starts(tmp_path, changes, objects, expected):
    assert expected in problems_of(write(tmp_path, *objects, **changes))


def test_a_sidecar_is_kept_when_the_upgraded_container_is_named_like_its_deployment(tmp_path):
    web = deployment("web", {"proxy": "envoy:1", "web": "shop/web:1"}, ports=[8080])
    profile = load_profile(write(tmp_path, web, DB))
    assert base_containers(profile) == {"web/proxy": "envoy:1", "db/postgres": "postgres:15"}


def test_what_the_harness_changes_is_a_warning_naming_the_object(tmp_path):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}}
    placed = {**WEB, "metadata": {"name": "web", "namespace": "shop"}}
    warnings = load_profile(write(tmp_path, placed, DB, claim, hpa)).warnings
    assert any("HorizontalPodAutoscaler/web is left out: replicas come from the scenario" in w for w in warnings)
    assert any("Deployment/web: its namespace 'shop' becomes the harness's" in w for w in warnings)
    assert any("the volume claims data become a directory on the node" in w for w in warnings)
    assert all(w.startswith("k8s: ") for w in warnings)


def test_blue_points_every_image_at_the_registry_and_changes_only_what_it_must(tmp_path):
    profile = load_profile(write(tmp_path, {**WEB, "metadata": {"name": "web", "namespace": "shop"}}, DB))
    rendered = manifests.blue(profile, "1.1", OPTIONS)
    web, db, entry = rendered.manifests
    assert "namespace" not in web["metadata"] and web["spec"]["replicas"] == 4
    assert web["metadata"]["annotations"] == {UPGRADED_CONTAINER: "web"}
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry:5000/chaos/shop/web:1.1"
    db_pod = db["spec"]["template"]["spec"]
    assert db_pod["containers"][0]["image"] == "registry:5000/chaos/shop/db/postgres:stack"
    assert db_pod["nodeSelector"] == {"chaos.stateful": "true"} and db["spec"]["replicas"] == 1
    assert entry["kind"] == "Service" and entry["spec"]["clusterIP"] == "None"
    assert entry["spec"]["selector"] == {"app": "web"}
    assert "chaos-harness-entry.chaos.svc" in rendered.objects[0].data.decode()  # the LB resolves the pods
    assert list(yaml.safe_load(rendered.compose)["services"]) == ["harness-lb"]
    assert WEB["spec"]["replicas"] == 1  # the profile's objects are untouched


def test_green_is_the_upgraded_deployment_and_what_it_mounts_publishing_the_entry_port(tmp_path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}}
    profile = load_profile(write(tmp_path, WEB, DB, secret))
    rendered = manifests.green(profile, "1.1", OPTIONS, publish=8081)
    assert [f"{o['kind']}/{o['metadata']['name']}" for o in rendered.manifests] == [
        "Deployment/web", "Secret/creds", "Service/chaos-harness-entry"]
    ports = rendered.manifests[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 8080, "hostPort": 8081, "protocol": "TCP"}]
    assert yaml.safe_load(rendered.compose)["networks"]["default"] == {"external": True, "name": "chaos_default"}


def test_the_broken_release_keeps_no_readiness_probe_of_the_manifests_own(tmp_path):
    probed = deployment("web", {"web": "shop/web:1"}, ports=[8080])
    probed["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}}
    profile = load_profile(write(tmp_path, probed, DB))
    broken = manifests.green(profile, "broken", OPTIONS).manifests[0]["spec"]["template"]["spec"]["containers"][0]
    kept = manifests.green(profile, "1.1", OPTIONS).manifests[0]["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in broken and kept["readinessProbe"] == {"httpGet": {"path": "/", "port": 8080}}


def test_prepare_recreates_the_upgraded_deployments_at_once(tmp_path):
    rendered = manifests.blue(load_profile(write(tmp_path)), "1.0", OPTIONS)
    fast = restarting_at_once(rendered, ["web"])
    assert fast.manifests[0]["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": 0, "maxUnavailable": "100%"}}
    assert "strategy" not in fast.manifests[1]["spec"] and "strategy" not in rendered.manifests[0]["spec"]


def test_claims_are_directories_on_the_node_and_the_objects_go_into_the_stacks_namespace():
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}}
    db = {**DB, "spec": {**DB["spec"], "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}}]}}
    web = deployment("web", {"web": "w"})
    web["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]
    found = claims_on_host("chaos", [claim, db, web])
    assert [o["kind"] for o in found] == ["StatefulSet", "Deployment"]
    assert found[0]["spec"]["template"]["spec"]["volumes"] == [{"name": "pgdata", "hostPath": {
        "path": "/var/lib/chaos-harness/volumes/chaos_db-pgdata", "type": "DirectoryOrCreate"}}]
    assert found[1]["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"].endswith("/chaos_data")
    placed = _in_namespace("chaos-green", found[1], ("chaos",))
    assert placed["metadata"]["namespace"] == "chaos-green"
    assert placed["spec"]["template"]["spec"]["dnsConfig"] == {"searches": ["chaos.svc.cluster.local"]}


def test_an_engine_deploys_the_first_form_it_speaks_that_the_profile_gives(tmp_path):
    both, compose_only = load_profile(DEFAULT_PROFILE), load_profile(EXAMPLES / "guestbook" / "guestbook.yaml")
    assert form_for(both, ("kubernetes", "compose")) == "kubernetes" and form_for(both, ("compose",)) == "compose"
    assert form_for(compose_only, ("kubernetes", "compose")) == "kubernetes"
    with pytest.raises(ProfileError, match="gives the app as kubernetes; this engine deploys compose: add compose:"):
        form_for(load_profile(write(tmp_path)), ("compose",))


def bundle(root: Path, name: str, pod: str, image: str, pid: int, namespace: str = "chaos") -> None:
    """A container's task bundle as containerd keeps it: its CRI annotations and its process."""
    directory = root / name
    directory.mkdir(parents=True)
    annotations = {"io.kubernetes.cri.sandbox-namespace": namespace, "io.kubernetes.cri.sandbox-name": pod,
                   "io.kubernetes.cri.sandbox-uid": f"uid-{name}", "io.kubernetes.cri.image-name": image}
    (directory / "config.json").write_text(json.dumps({"annotations": annotations}, separators=(",", ":")))
    (directory / "init.pid").write_text(str(pid))


def on_bundles(script: str, root: Path, service: str) -> subprocess.CompletedProcess:
    script = script.replace("/run/containerd/io.containerd.runtime.v2.task/k8s.io", str(root))
    return subprocess.run(["sh", "-c", script, "script", service], capture_output=True, text=True)


def test_the_census_counts_the_deployments_own_container_not_a_sidecar_or_a_namesake(tmp_path):
    bundle(tmp_path, "a", "web-5d8f9-abcde", "registry:5000/chaos/shop/web:1.0", os.getpid())
    bundle(tmp_path, "b", "web-5d8f9-abcde", "registry:5000/chaos/shop/web/proxy:stack", os.getpid())  # its sidecar
    bundle(tmp_path, "c", "web-api-77c-xyz12", "registry:5000/chaos/shop/web:1.0", os.getpid())  # another's pod
    bundle(tmp_path, "d", "web-6c4-qwert", "registry:5000/chaos/shop/web:1.1", os.getpid(), "chaos-green")
    assert on_bundles(_CENSUS, tmp_path, "chaos_web").stdout.split() == ["registry:5000/chaos/shop/web:1.0"]


def test_task_kill_kills_one_container_of_the_service_and_names_its_pod(tmp_path):
    with subprocess.Popen(["sleep", "60"]) as sidecar, subprocess.Popen(["sleep", "60"]) as web:
        bundle(tmp_path, "a", "web-5d8f9-abcde", "registry:5000/chaos/shop/web/proxy:stack", sidecar.pid)
        bundle(tmp_path, "b", "web-5d8f9-abcde", "registry:5000/chaos/shop/web:1.0", web.pid)
        done = on_bundles(_KILL, tmp_path, "chaos_web")
        assert done.returncode == 0 and done.stdout.strip() == "uid-b"
        assert web.wait(timeout=5) == -9 and sidecar.poll() is None
        sidecar.kill()
    missing = on_bundles(_KILL, tmp_path, "chaos_web")  # both processes are gone
    assert missing.returncode == 1 and "no running container of chaos_web" in missing.stderr


def kinds(profile) -> set[str]:
    return {f"{o['kind']}/{o['metadata']['name']}" for o in profile.manifests}


def test_a_chart_is_rendered_as_the_release_it_names_and_a_set_value_that_is_no_string_as_yaml_says_it(tmp_path):
    chart = EXAMPLES / "guestbook" / "chart"
    profile = {**PROFILE, "kubernetes": {"chart": str(chart), "set": {"app.replicas": 5, "app.port": 8080}},
               "releases": {"1.0": {"app": "guestbook/app:1.0"}}, "entry": {"service": "app", "port": 8080},
               "stateful": ["db"]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(profile))
    app = next(o for o in load_profile(path).manifests if o["metadata"]["name"] == "app" and o["kind"] == "Deployment")
    assert app["spec"]["replicas"] == 5  # an int, as --set gives it (--set-string would give "5")
    assert "Secret/shop-db" in kinds(load_profile(path))  # the release is named after the profile, shop
    path.write_text(yaml.safe_dump({**profile, "kubernetes": {**profile["kubernetes"], "release": "guestbook"}}))
    assert "Secret/guestbook-db" in kinds(load_profile(path)) and "Secret/shop-db" not in kinds(load_profile(path))
    assert _set("redis.enabled", False) == ("--set", "redis.enabled=false")
    assert _set("image.tag", "1.0") == ("--set-string", "image.tag=1.0")


def test_without_helm_built_a_profile_with_a_compose_file_still_loads_and_kubernetes_says_why(tmp_path, monkeypatch):
    def not_built(command):
        raise EnvironmentProblem(f"rendering the profile's Kubernetes objects needs {command}, which is not built yet")

    monkeypatch.setattr("harness.app.manifests._tool", not_built)
    guestbook = load_profile(EXAMPLES / "guestbook" / "guestbook.yaml")
    assert guestbook.manifests == () and any("chart: not rendered: " in w for w in guestbook.warnings)
    assert form_for(guestbook, ("compose",)) == "compose"
    with pytest.raises(EnvironmentProblem, match="needs helm, which is not built yet"):
        form_for(guestbook, ("kubernetes", "compose"))
    (tmp_path / "k").mkdir()
    with pytest.raises(EnvironmentProblem, match="needs kubectl"):
        load_profile(write(tmp_path, kubernetes={"kustomize": "k"}))


def test_a_stateful_workload_without_a_claim_is_a_warning_and_the_harnesss_own_namespace_is_none(tmp_path):
    warnings = load_profile(write(tmp_path, {**WEB, "metadata": {"name": "web", "namespace": "chaos"}}, DB)).warnings
    assert any("the stateful workload db mounts no volume claim: its data is lost" in w for w in warnings)
    assert not any("namespace" in w for w in warnings)  # a chart rendered into the harness's namespace says it


def test_entry_health_gives_the_entrys_container_a_probe_of_its_health_path_but_not_the_broken_release(tmp_path):
    """stack.readiness: entry-health (lint's fix of kubernetes-no-readiness-probe): the entry's container without a
    readinessProbe gets one asking the entry's health path; the broken release keeps its failing HEALTHCHECK, and
    as-given leaves the objects' probes as they are."""
    import dataclasses

    profile = load_profile(write(tmp_path, entry={"service": "web", "port": 8080, "health": {"path": "/healthz"}}))
    probed = dataclasses.replace(OPTIONS, entry_readiness=True)

    def web(rendered) -> dict:
        deployment = next(o for o in rendered.manifests if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
        return deployment["spec"]["template"]["spec"]["containers"][0]

    assert web(manifests.blue(profile, "1.1", probed))["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert web(manifests.green(profile, "1.1", probed))["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "readinessProbe" not in web(manifests.green(profile, "broken", probed))
    assert "readinessProbe" not in web(manifests.blue(profile, "1.1", OPTIONS))
