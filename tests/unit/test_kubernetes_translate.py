"""A compose stack as Kubernetes objects, the rolling update's fields, and the Kubernetes state read back in the
harness's words."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
import yaml

from harness.app import DEFAULT_PROFILE, load_profile
from harness.engine.base import EngineObject, UpdatePolicy
from harness.engine.kubernetes.engine import CHANGE, CHANGE_STARTED, KubernetesEngine, _joined_stacks, _task, \
    _update_state
from harness.engine.kubernetes.translate import POD_START, image_probe, rolling_update, stack_objects
from harness.errors import EngineError
from harness.stack.compose import StackOptions, blue, green

OPTIONS = StackOptions(registry="registry:5000", lb_image="registry:5000/chaos/harness/lb:1",
                       discovery=KubernetesEngine.discovery)
DEMO = load_profile(DEFAULT_PROFILE)


def objects_of(rendered, stack="chaos", image_config=lambda _: {}):
    objects = {o.name: o for o in rendered.objects}
    found = stack_objects(stack, rendered.compose, objects, _joined_stacks(rendered.compose, stack), image_config)
    return {(o["kind"], o["metadata"]["name"]): o for o in found}


def pod_of(found, name):
    return found[("Deployment", name)]["spec"]["template"]["spec"]


def test_each_service_becomes_a_deployment_and_a_headless_service_in_the_stacks_namespace():
    found = objects_of(blue(DEMO, "v1", OPTIONS))
    assert ("Namespace", "chaos") in found
    assert {name for kind, name in found if kind == "Deployment"} == {"web", "db", "harness-lb"}
    assert found[("Service", "web")]["spec"]["clusterIP"] == "None"
    web = found[("Deployment", "web")]
    assert web["spec"]["replicas"] == 3 and web["metadata"]["namespace"] == "chaos"
    env = {e["name"]: e for e in pod_of(found, "web")["containers"][0]["env"]}
    assert env["TASK_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # {{.Task.Name}}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["DB_HOST"] == {"name": "DB_HOST", "value": "db"}
    assert pod_of(found, "web")["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"


def test_the_stateful_service_keeps_its_volume_on_its_labelled_node_and_the_lb_takes_its_ports_there():
    found = objects_of(blue(DEMO, "v1", OPTIONS))
    db = pod_of(found, "db")
    assert db["nodeSelector"] == {"chaos.stateful": "true"}
    assert db["volumes"] == [{"name": "dbdata", "hostPath": {"path": "/var/lib/chaos-harness/volumes/chaos_dbdata",
                                                              "type": "DirectoryOrCreate"}}]
    assert db["containers"][0]["volumeMounts"] == [{"name": "dbdata", "mountPath": "/data", "readOnly": False}]
    lb = pod_of(found, "harness-lb")
    assert lb["nodeSelector"] == {"chaos.lb": "true"}
    assert [(p["containerPort"], p["hostPort"]) for p in lb["containers"][0]["ports"]] == [(8080, 8080), (9999, 9999)]
    (mount,) = lb["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == "/etc/haproxy/haproxy.cfg" and mount["subPath"] == "data"
    config_map = next(o for (kind, _), o in found.items() if kind == "ConfigMap")
    assert lb["volumes"][0]["configMap"]["name"] == config_map["metadata"]["name"]


def test_green_looks_names_up_in_blues_namespace_too():
    found = objects_of(green(DEMO, "v2", OPTIONS), stack="chaos-green")
    assert pod_of(found, "web")["dnsConfig"] == {"searches": ["chaos.svc.cluster.local"]}
    assert found[("Deployment", "web")]["metadata"]["namespace"] == "chaos-green"


def test_an_images_own_healthcheck_becomes_the_readiness_probe_unless_compose_has_one():
    broken = {"Healthcheck": {"Test": ["CMD", "/chaos-harness/this-release-is-broken"], "Interval": 2_000_000_000,
                              "Timeout": 1_000_000_000, "StartPeriod": 1_000_000_000, "Retries": 2}}
    assert image_probe(broken) == {"exec": {"command": ["/chaos-harness/this-release-is-broken"]}, "periodSeconds": 2,
                                   "timeoutSeconds": 1, "failureThreshold": 2, "initialDelaySeconds": 1}
    assert image_probe({}) is None and image_probe({"Healthcheck": {"Test": ["NONE"]}}) is None
    found = objects_of(blue(DEMO, "v1", OPTIONS), image_config=lambda image: broken if "web" in image else {})
    assert pod_of(found, "web")["containers"][0]["readinessProbe"]["periodSeconds"] == 2
    assert found[("Deployment", "web")]["metadata"]["annotations"] == {"chaos-harness.io/probe-from": "image"}
    assert "readinessProbe" not in pod_of(found, "db")["containers"][0]


@pytest.mark.parametrize("order, surge, unavailable", [("stop-first", 0, 2), ("start-first", 2, 0)])
def test_update_config_maps_to_the_rolling_update(order, surge, unavailable):
    fields = rolling_update(UpdatePolicy(parallelism=2, order=order, delay=2.0, monitor=5.0))
    assert fields["strategy"]["rollingUpdate"] == {"maxSurge": surge, "maxUnavailable": unavailable}
    assert fields["minReadySeconds"] == 2 and fields["progressDeadlineSeconds"] == POD_START + 7
    assert rolling_update(UpdatePolicy(parallelism=0, delay=0, monitor=0))["progressDeadlineSeconds"] == POD_START
    assert rolling_update(UpdatePolicy(parallelism=0))["strategy"]["rollingUpdate"]["maxUnavailable"] == "100%"
    assert rolling_update(UpdatePolicy(delay=2.0, progress_deadline=59.5))["progressDeadlineSeconds"] == 60


def test_a_scenario_sets_the_progress_deadline_in_its_kubernetes_block():
    from harness.scenario.model import Strategy
    strategy = Strategy.model_validate({"update_config": {"delay": "1s"}, "kubernetes": {"progress_deadline": "90s"}})
    assert strategy.policy().progress_deadline == 90 and strategy.policy().delay == 1
    assert Strategy().policy().progress_deadline is None
    with pytest.raises(ValueError, match="progress_deadline"):
        Strategy.model_validate({"kubernetes": {"progress_deadline": "0s"}})
    with pytest.raises(ValueError, match="deadline"):
        Strategy.model_validate({"kubernetes": {"deadline": "9s"}})  # a key it does not know


@pytest.mark.parametrize("deploy, message", [
    ({"placement": {"constraints": ["node.hostname != node2"]}}, "node.hostname != node2"),
    ({"mode": "global"}, "deploy.mode global"),
])
def test_what_has_no_kubernetes_twin_is_an_error_naming_the_service(deploy, message):
    compose = yaml.safe_dump({"services": {"api": {"image": "x:1", "deploy": deploy}}})
    with pytest.raises(EngineError, match=message) as raised:
        stack_objects("chaos", compose, {})
    assert "service api" in str(raised.value)


def test_a_bind_mount_cannot_be_carried_to_a_node():
    compose = yaml.safe_dump({"services": {"api": {"image": "x:1", "volumes": ["./data:/data"]}}})
    with pytest.raises(EngineError, match="bind mount"):
        stack_objects("chaos", compose, {})


def test_a_secret_is_mounted_where_swarm_puts_it():
    compose = yaml.safe_dump({"services": {"api": {"image": "x:1", "secrets": ["token"]}},
                              "secrets": {"token": {"external": True, "name": "chaos-secret-ab"}}})
    found = {o["kind"]: o for o in stack_objects("chaos", compose, {
        "chaos-secret-ab": EngineObject("secret", "chaos-secret-ab", b"s3cret")})}
    assert found["Secret"]["data"] == {"data": "czNjcmV0"}
    mounts = found["Deployment"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "secret-token", "mountPath": "/run/secrets/token", "subPath": "data", "readOnly": True}]


def deployment(change="update", started=100.0, replicas=3, updated=3, available=3, generation=2, observed=2,
               progressing=None, paused=False):
    conditions = [progressing] if progressing else []
    return NS(metadata=NS(annotations={CHANGE: change, CHANGE_STARTED: str(started)}, generation=generation),
              spec=NS(replicas=replicas, paused=paused),
              status=NS(conditions=conditions, observed_generation=observed, updated_replicas=updated,
                        replicas=replicas, available_replicas=available))


def condition(reason: str, at: float):
    return NS(type="Progressing", reason=reason, message=reason, last_update_time=datetime.fromtimestamp(
        at, timezone.utc))


def test_the_rollouts_state_in_the_harnesss_words():
    assert _update_state(deployment())[0] == "completed"
    assert _update_state(deployment(change="rollback"))[0] == "rolled_back"
    assert _update_state(deployment(updated=1))[0] == "updating"
    assert _update_state(deployment(observed=1))[0] == "updating"  # the controller has not seen the change yet
    assert _update_state(deployment(updated=1, progressing=condition("ProgressDeadlineExceeded", 130)))[0] == "paused"
    assert _update_state(deployment(change="rollback", updated=1, paused=True))[0] == "rollback_paused"


def test_a_deadline_passed_in_the_second_a_change_started_is_the_verdict_on_the_change_before():
    stale = deployment(change="rollback", started=100.4, updated=2, progressing=condition("ProgressDeadlineExceeded",
                                                                                          100))
    assert _update_state(stale)[0] == "rolling_back"


def pod(waiting=None, running=False, ready=False, node="node2", deleted=False):
    state = NS(running=NS(started_at=datetime.now(timezone.utc)) if running else None,
               waiting=NS(reason=waiting, message="pull access denied") if waiting else None, terminated=None)
    return NS(metadata=NS(uid="u1", creation_timestamp=datetime.now(timezone.utc),
                          deletion_timestamp=datetime.now(timezone.utc) if deleted else None),
              spec=NS(node_name=node, containers=[NS(name="proxy", image="registry:5000/chaos/demo/web/proxy:stack"),
                                                  NS(name="web", image="registry:5000/chaos/demo/web:v2")]),
              status=NS(conditions=[NS(type="PodScheduled", status="False" if node is None else "True",
                                       message="0/3 nodes are available: 1 node(s) didn't have free ports")],
                        container_statuses=[NS(name="proxy", state=NS(running=None, waiting=None, terminated=None),
                                               ready=False),
                                            NS(name="web", state=state, ready=ready)] if (waiting or running) else [],
                        pod_ip="10.244.2.5" if running else None))


@pytest.mark.parametrize("kwargs, state", [
    ({"waiting": "ErrImagePull"}, "rejected"), ({"waiting": "ImagePullBackOff"}, "rejected"),
    ({"waiting": "CrashLoopBackOff"}, "failed"), ({"waiting": "ContainerCreating"}, "preparing"),
    ({"running": True}, "starting"), ({"running": True, "ready": True}, "running"), ({}, "assigned"),
])
def test_a_pod_is_a_task_in_swarms_words_by_the_container_an_upgrade_changes(kwargs, state):
    task = _task(pod(**kwargs), 1, "web")
    assert task.state == state and task.version == "v2" and task.node == "node2"
    if state == "rejected":
        assert task.error == f"{kwargs['waiting']}: pull access denied"


def test_a_pod_the_scheduler_cannot_place_says_why():
    task = _task(pod(node=None), 1, "web")
    assert task.state == "pending" and task.error == "0/3 nodes are available: 1 node(s) didn't have free ports"
    assert _task(pod(), 1, "web").error == ""


def test_a_pod_the_node_controller_marked_unready_is_no_longer_running():
    """A halted node's pod keeps its kubelet's last word (ready); the node controller sets its Ready condition
    False once the node is NotReady, and the task is then no longer counted as running."""
    unreachable = pod(running=True, ready=True)
    unreachable.status.conditions.append(NS(type="Ready", status="False", message=""))
    assert _task(unreachable, 1, "web").state == "starting"
    unreachable.status.conditions[-1].status = "True"
    assert _task(unreachable, 1, "web").state == "running"


def test_a_terminating_pod_is_a_task_meant_to_shut_down():
    assert _task(pod(running=True, ready=True, deleted=True), 1, "web").desired_state == "shutdown"
    assert _task(pod(running=True, ready=True), 1, "web").addresses == ("10.244.2.5",)


@pytest.mark.parametrize("live_probe, expected", [
    (None, {"exec": {"command": ["/broken"]}}),  # "$patch" where there is no probe would leave none
    (NS(http_get=NS(path="/health")), {"$patch": "replace", "exec": {"command": ["/broken"]}}),  # not merged into
])
def test_an_update_to_an_image_whose_health_counts_sets_its_probe_in_place_of_any(monkeypatch, live_probe, expected):
    engine = KubernetesEngine(Path("unused"), image_config=lambda image: {"Healthcheck": {"Test": ["CMD", "/broken"]}})
    live = NS(metadata=NS(annotations={}), spec=NS(template=NS(spec=NS(containers=[
        NS(name="web", image="registry:5000/chaos/shop/web:1", readiness_probe=live_probe)]))))
    patches = []
    monkeypatch.setattr(engine, "_deployment", lambda name: live)
    monkeypatch.setattr(engine, "_patch", lambda name, body, merge=False: patches.append(body))
    engine.update_image("chaos_web", "registry:5000/chaos/shop/web:broken", UpdatePolicy(), image_health=True)
    (container,) = patches[0]["spec"]["template"]["spec"]["containers"]
    probe = {key: value for key, value in container["readinessProbe"].items() if key in ("$patch", "exec")}
    assert probe == expected


def test_max_surge_and_max_unavailable_are_sent_as_given_the_other_at_kubernetes_default():
    both = rolling_update(UpdatePolicy(parallelism=1, max_surge=0, max_unavailable="25%"))
    assert both["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": "25%"}
    one = rolling_update(UpdatePolicy(parallelism=1, order="start-first", max_unavailable=2))
    assert one["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 2}


def test_node_ports_expose_the_load_balancer_instead_of_host_ports():
    rendered = blue(DEMO, "v1", OPTIONS)
    objects = {o.name: o for o in rendered.objects}
    found = {(o["kind"], o["metadata"]["name"]): o
             for o in stack_objects("chaos", rendered.compose, objects, node_ports={8080: 32767, 9999: 32766})}
    lb = pod_of(found, "harness-lb")["containers"][0]
    assert lb["ports"] == [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9999, "protocol": "TCP"}]
    service = found[("Service", "harness-lb-nodeport")]["spec"]
    assert service["type"] == "NodePort" and service["externalTrafficPolicy"] == "Local"
    assert service["selector"] == found[("Deployment", "harness-lb")]["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"], p["nodePort"]) for p in service["ports"]] == [(8080, 8080, 32767),
                                                                                     (9999, 9999, 32766)]
    assert not [name for kind, name in found if name.endswith("-nodeport") and name != "harness-lb-nodeport"]
