"""The stacks the harness deploys from an app profile's Kubernetes objects (never changed on disk).

    blue   every object at one release, every image from the cluster's
           registry, and the harness's load balancer (a compose service the
           engine translates, as for a compose app)
    green  the upgraded Deployments at another release, with the objects
           they may mount or run as (ConfigMaps, Secrets, ServiceAccounts)
           and the PodDisruptionBudgets, beside blue: their pods look names
           up in blue's namespace too

A PodDisruptionBudget counts the pods of its own namespace only: blue's does not
see green's pods, though they carry the same labels. Green carries a copy, so
that a drain during a blue-green upgrade meets the app's budget on either side,
as each release of the app would bring its own (a copy that selects none of
green's pods guards nothing).

Beside what ``harness.app.manifests`` lists, the harness adds one object: a headless Service (``ENTRY_PODS``)
selecting the entry's pods, through which the load balancer finds each pod (the app's own Service may balance
behind one address, which would hide which pod answered).

Under service-switch (``StackOptions.switch_nodes``) green is no stack of its own: the upgraded Deployments run
beside blue's in blue's namespace as ``<name>-green`` (``switch_green``), every upgraded pod labelled with its slot
(``SLOT``, in the Deployment's selector too, so that blue's and green's never count each other's pods), and the
harness adds the live Service (``LIVE_SERVICE``, a NodePort) selecting the entry's pods of one slot, and green's
headless Service (``ENTRY_PODS-green``) for the preview route. The switch is one patch of the live Service's
selector (``selector_patch``).

There a budget of the app that selects (by labels) the upgraded Deployments' pods and nothing else would count
both slots' pods in the one namespace: one for both would let a drain take every pod of the live slot while the
idle slot's pods keep the count (``minAvailable: 2`` of six). So each slot gets its own, the slot in its
selector (green's named ``<name>-green``), as each would on a cluster of its own; a budget that also selects
other pods, or by expressions, is left as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import yaml

from harness.app.images import BASE_TAG
from harness.app.profile import BROKEN, Profile
from harness.cluster.config import STACK_NAME
from harness.engine.kubernetes.translate import UPGRADED_CONTAINER, placement, pod_spec
from harness.stack.compose import (
    LIVE_NODE_PORT, PLACEMENTS, SWITCH_SUFFIX, Rendered, StackOptions, image_ref, load_balanced)

ENTRY_PODS = "chaos-harness-entry"  # the headless Service of the entry's pods
LIVE_SERVICE = "chaos-harness-live"  # service-switch: the Service whose selector is switched
SLOT = "chaos-harness.io/slot"  # service-switch: the label of an upgraded pod's slot, blue or green
SLOTS = ("blue", "green")
GREEN_KINDS = ("ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "PodDisruptionBudget")


def blue(profile: Profile, release: str, options: StackOptions) -> Rendered:
    """Every object with the upgraded Deployments at ``release``, and the load balancer (service-switch: blue's
    pods labelled as blue's, the live Service selecting them)."""
    manifests = [_retargeted(profile, obj, release, options) for obj in profile.manifests]
    if not options.switch_nodes:
        added: tuple[dict, ...] = (_entry_pods(profile),)
    else:
        manifests = [_slotted(profile, obj, "blue") for obj in manifests]
        added = (_entry_pods(profile, "blue"), _entry_pods(profile, "green"), live_service(profile, "blue"))
    return load_balanced(profile, options, {"version": "3.8", "services": {}}, {}, ["default"], ENTRY_PODS,
                         (*manifests, *added))


def switch_green(profile: Profile, old: str, new: str, options: StackOptions, publish: int | None = None) -> Rendered:
    """Blue at ``old`` as ``blue`` renders it, and the upgraded Deployments at ``new`` beside it in its namespace as
    ``<name>-green``, their pods labelled as green's: deployed as one stack, so that blue's objects stay as they
    are (a deploy prunes what it does not name)."""
    rendered = blue(profile, old, options)
    green = [_slotted(profile, _retargeted(profile, obj, new, options), "green") for obj in profile.manifests
             if (obj["kind"] == "Deployment" and obj["metadata"]["name"] in profile.upgraded)
             or _guards_upgraded_only(profile, obj)]
    if publish is not None:
        _publish(profile, green, publish, f"{profile.model.entry.service}{SWITCH_SUFFIX}")
    return Rendered(rendered.compose, rendered.objects, (*rendered.manifests, *green))


def live_service(profile: Profile, slot: str) -> dict:
    """The Service clients reach under service-switch: the entry's pods of ``slot``, on ``LIVE_NODE_PORT`` of every
    node (its cluster IP too)."""
    port = profile.model.entry.port
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": LIVE_SERVICE},
            "spec": {"type": "NodePort", "selector": {**_entry_labels(profile), SLOT: slot},
                     "ports": [{"name": "entry", "port": port, "targetPort": port, "nodePort": LIVE_NODE_PORT,
                                "protocol": "TCP"}]}}


def selector_patch(slot: str) -> dict:
    """The one change of a switch: the live Service's selector moved to the pods of ``slot`` (a strategic merge
    patch: the entry's own labels stay)."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")
    return {"spec": {"selector": {SLOT: slot}}}


def green(profile: Profile, release: str, options: StackOptions, publish: int | None = None) -> Rendered:
    """The upgraded Deployments at ``release`` and what they mount, beside blue; ``publish`` opens the entry port
    on the nodes (a hostPort)."""
    kept = [obj for obj in profile.manifests if obj["kind"] in GREEN_KINDS
            or (obj["kind"] == "Deployment" and obj["metadata"]["name"] in profile.upgraded)]
    manifests = [_retargeted(profile, obj, release, options) for obj in kept]
    if publish is not None:
        _publish(profile, manifests, publish)
    document = {"version": "3.8", "services": {},
                "networks": {"default": {"external": True, "name": f"{STACK_NAME}_default"}}}  # blue's names
    return Rendered(yaml.safe_dump(document, sort_keys=False), (), (*manifests, _entry_pods(profile)))


def restarting_at_once(manifests: Iterable[dict], names: Iterable[str]) -> tuple[dict, ...]:
    """``manifests`` with the Deployments ``names`` replaced all at once, the old pods stopped first: how prepare
    restarts them, before any client is there. A rolling update of 100 % (not ``Recreate``, which the API refuses
    beside the rolling update an upgrade leaves)."""
    wanted = set(names)
    found = []
    for obj in manifests:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in wanted:
            obj = copy.deepcopy(obj)
            obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0,
                                                                                  "maxUnavailable": "100%"}}
            obj["spec"]["minReadySeconds"] = 0
        found.append(obj)
    return tuple(found)


def _retargeted(profile: Profile, obj: dict, release: str, options: StackOptions) -> dict:
    """``obj`` with its images from the cluster's registry, the scenario's replicas for an upgraded Deployment, a
    stateful workload placed as the scenario says, and no namespace of its own."""
    obj = copy.deepcopy(obj)
    obj["metadata"].pop("namespace", None)
    pod, name = pod_spec(obj), obj["metadata"]["name"]
    if pod is None:
        return obj
    upgraded = obj["kind"] == "Deployment" and name in profile.upgraded
    main = profile.workloads[name].upgraded_container() if upgraded else None
    for container in [*(pod.get("initContainers") or []), *pod["containers"]]:
        key, tag = (name, release) if container["name"] == main else (f"{name}/{container['name']}", BASE_TAG)
        container["image"] = image_ref(options, profile.name, key, tag)
        if container["name"] == main and release == BROKEN:
            container.pop("readinessProbe", None)  # the broken image's own HEALTHCHECK, which never passes, counts
        elif container["name"] == main and options.entry_readiness and name == profile.model.entry.service:
            container.setdefault("readinessProbe", _entry_probe(profile))
    if upgraded:
        obj["spec"]["replicas"] = options.replicas
        obj["metadata"].setdefault("annotations", {})[UPGRADED_CONTAINER] = main
    if name in profile.model.stateful:
        _place(pod, placement(name, {"placement": {"constraints": [PLACEMENTS[options.stateful_placement]]}}))
    return obj


def _entry_probe(profile: Profile) -> dict:
    """A readiness probe asking the entry's health path, on its port, every 2 s."""
    entry = profile.model.entry
    return {"httpGet": {"path": entry.health.path, "port": entry.port}, "periodSeconds": 2, "failureThreshold": 2}


def _place(pod: dict, where: dict) -> None:
    """Adds a node selector or node affinity to the pod's own."""
    pod["nodeSelector"] = {**(pod.get("nodeSelector") or {}), **where.get("nodeSelector", {})}
    terms = where.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if terms:
        required = pod.setdefault("affinity", {}).setdefault("nodeAffinity", {}).setdefault(
            "requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": [{}]})
        for term in required.setdefault("nodeSelectorTerms", [{}]):  # every alternative must keep off the nodes
            term.setdefault("matchExpressions", []).extend(terms["nodeSelectorTerms"][0]["matchExpressions"])


def _slotted(profile: Profile, obj: dict, slot: str) -> dict:
    """An upgraded Deployment with its slot in its selector and its pods' labels; green's named ``<name>-green``.
    Any other object as it is."""
    budget = _guards_upgraded_only(profile, obj)
    if not budget and (obj["kind"] != "Deployment" or obj["metadata"]["name"] not in profile.upgraded):
        return obj
    obj = copy.deepcopy(obj)
    obj["spec"]["selector"].setdefault("matchLabels", {})[SLOT] = slot
    if not budget:
        obj["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})[SLOT] = slot
    if slot == "green":
        obj["metadata"]["name"] += SWITCH_SUFFIX
    return obj


def _guards_upgraded_only(profile: Profile, obj: dict) -> bool:
    """A PodDisruptionBudget whose selector (labels only) selects the pods of upgraded Deployments and of no other
    workload: one budget per slot under service-switch."""
    if obj["kind"] != "PodDisruptionBudget":
        return False
    selector = (obj.get("spec") or {}).get("selector") or {}
    wanted = (selector.get("matchLabels") or {}).items()
    if not wanted or selector.get("matchExpressions"):
        return False
    selected = {o["metadata"]["name"] for o in profile.manifests if pod_spec(o) is not None
                and wanted <= ((o["spec"].get("template") or {}).get("metadata") or {}).get("labels", {}).items()}
    return bool(selected) and selected <= set(profile.upgraded)


def _publish(profile: Profile, manifests: list[dict], port: int, name: str | None = None) -> None:
    entry = profile.model.entry
    for obj in manifests:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == (name or entry.service):
            main = obj["metadata"]["annotations"][UPGRADED_CONTAINER]
            container = next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == main)
            container["ports"] = [*(p for p in container.get("ports") or [] if p.get("containerPort") != entry.port),
                                  {"containerPort": entry.port, "hostPort": port, "protocol": "TCP"}]


def _entry_pods(profile: Profile, slot: str | None = None) -> dict:
    """The headless Service of the entry Deployment's pods (their template's labels); of one ``slot`` only under
    service-switch (green's named ``ENTRY_PODS-green``)."""
    selector = {**_entry_labels(profile), **({SLOT: slot} if slot else {})}
    name = ENTRY_PODS + (SWITCH_SUFFIX if slot == "green" else "")
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"clusterIP": "None", "selector": selector, "publishNotReadyAddresses": False}}


def _entry_labels(profile: Profile) -> dict[str, str]:
    """The labels of the entry Deployment's pods, as its template gives them."""
    entry = next(o for o in profile.manifests
                 if o["kind"] == "Deployment" and o["metadata"]["name"] == profile.model.entry.service)
    return dict(entry["spec"]["template"]["metadata"]["labels"])
