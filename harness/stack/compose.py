"""The compose documents the harness deploys, made from the user's compose file (never changed on disk).

    blue   the user's stack at one release, every image from the cluster's
           registry, plus the harness's load balancer in front of the entry
    green  only the upgraded services at another release, beside blue, on
           blue's networks, so they reach the services no release changes

What Swarm cannot do here is changed, and only that: no IPVS on these
kernels, so every service uses ``endpoint_mode: dnsrr`` and nothing is
published through the routing mesh (clients come in through the load
balancer); files the manager does not have (``env_file``, configs and secrets
from files) are inlined or created in the engine first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

from harness.app.images import BASE_TAG, repository
from harness.app.profile import BROKEN, Profile
from harness.cluster.config import GREEN_STACK, LB_LABEL, LB_PORTS, STACK_NAME, STATEFUL_LABEL
from harness.cluster.registry import STACK_NAMESPACE
from harness.engine.base import Discovery, EngineObject
from harness.engine.swarm import SwarmEngine
from harness.resources import package_path

LB_SERVICE_NAME = "harness-lb"
LIVE_NODE_PORT = 30880  # service-switch: the live Service's NodePort on every node
SWITCH_SUFFIX = "-green"  # service-switch: green's Deployments and headless Service beside blue's, so named
HAPROXY_TEMPLATE = package_path("harness.stack", "haproxy.cfg")
LB_CONFIG = "harness-lb-cfg"  # the load balancer's configuration, as the stack names it
SWARM_DISCOVERY = SwarmEngine.discovery
PLACEMENTS = {"pinned": f"node.labels.{STATEFUL_LABEL} == true", "floating": "node.role == worker"}
DROPPED_KEYS = ("build", "container_name", "depends_on", "restart", "links", "ports", "network_mode", "env_file",
                "expose")


@dataclass(frozen=True)
class StackOptions:
    """What shapes the deployed stack beyond the profile: the scenario's choices and the cluster's registry."""

    registry: str  # host:port the nodes pull from
    replicas: int = 3
    stateful_placement: str = "pinned"
    entry_readiness: bool = False  # Kubernetes objects: the entry's container gets a probe of its health path
    lb_image: str = ""
    server_timeout: float = 2.0
    discovery: Discovery = SWARM_DISCOVERY  # how the load balancer finds the entry's tasks (the engine says)
    form: str = "compose"  # the form of the app deployed: its compose file, or its Kubernetes objects (``kubernetes``)
    # service-switch: (name, address) of every node; the live route goes to the live Service's NodePort on each
    switch_nodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rendered:
    """A compose document, the engine objects it refers to, and the Kubernetes objects deployed with it (an app
    given as Kubernetes objects: ``harness.stack.manifests``)."""

    compose: str
    objects: tuple[EngineObject, ...]
    manifests: tuple[dict, ...] = ()


def image_ref(options: StackOptions, app: str, service: str, tag: str) -> str:
    """The image reference the nodes pull for a service at a release (or at ``BASE_TAG``)."""
    return f"{options.registry}/{STACK_NAMESPACE}/{repository(app, service)}:{tag}"


def haproxy_config(profile: Profile, options: StackOptions, entry_pods: str | None = None) -> str:
    """The load balancer's configuration for the profile's entry and health check; ``entry_pods``: the name that
    resolves to the entry's tasks (the entry service's own by default)."""
    entry = profile.model.entry
    statuses = [str(s).replace("x", "[0-9]") for s in entry.health.check.status]  # 2xx -> 2[0-9][0-9]
    expect = f"status {statuses[0]}" if statuses[0].isdigit() and len(statuses) == 1 else \
        f"rstatus ^({'|'.join(statuses)})$"
    name = entry_pods or entry.service
    slots = max(12, 2 * options.replicas)
    blue, green = (options.discovery.of(STACK_NAME, name), options.discovery.of(GREEN_STACK, name))
    if options.switch_nodes:  # service-switch: green's pods beside blue's, under their own headless Service
        green = options.discovery.of(STACK_NAME, f"{name}{SWITCH_SUFFIX}")
    return Template(HAPROXY_TEMPLATE.read_text()).substitute(
        health_path=entry.health.path, health_expect=expect,
        blue_servers=node_ports(options.switch_nodes) if options.switch_nodes else _resolved(slots, blue, entry.port),
        green_servers=_resolved(slots, green, entry.port),
        resolver=options.discovery.resolver, server_timeout=f"{options.server_timeout:g}s")


def node_ports(nodes: tuple[tuple[str, str], ...]) -> str:
    """A server per node at its address and the live Service's NodePort: each node's kube-proxy translates what
    it is sent, so that clients see each node's view of the Service (service-switch)."""
    return "\n    ".join(f"server {name} {address}:{LIVE_NODE_PORT} check" for name, address in nodes)


def _resolved(slots: int, name: str, port: int) -> str:
    """Server slots filled from the cluster's DNS: one per address ``name`` resolves to."""
    return f"server-template srv {slots} {name}:{port} check resolvers cluster init-addr none resolve-prefer ipv4"


def blue(profile: Profile, release: str, options: StackOptions) -> Rendered:
    """The whole stack with the upgraded services at ``release``, and the load balancer."""
    objects: dict[str, EngineObject] = {}
    services = {name: _service(profile, name, spec, release, options, objects)
                for name, spec in profile.compose["services"].items()}
    document = {"version": "3.8", "services": services,
                **_top_level(profile, objects), "networks": _networks(profile)}
    entry = profile.compose["services"][profile.model.entry.service]
    return load_balanced(profile, options, document, objects, _service_networks({"networks": entry.get("networks")}))


def load_balanced(profile: Profile, options: StackOptions, document: dict, objects: dict[str, EngineObject],
                  networks: list[str], entry_pods: str | None = None, manifests: tuple[dict, ...] = ()) -> Rendered:
    """``document`` with the harness's load balancer, on ``networks``, in front of ``entry_pods``."""
    lb_config = _object("config", haproxy_config(profile, options, entry_pods).encode())
    objects[lb_config.name] = lb_config
    document["services"][LB_SERVICE_NAME] = _lb_service(options, networks)
    document.setdefault("configs", {})[LB_CONFIG] = {"external": True, "name": lb_config.name}
    document.setdefault("networks", {}).setdefault("default", {})
    return Rendered(yaml.safe_dump(document, sort_keys=False), tuple(objects.values()), manifests)


def green(profile: Profile, release: str, options: StackOptions, publish: int | None = None) -> Rendered:
    """The upgraded services at ``release``, on blue's networks; ``publish`` opens the entry port on the hosts."""
    objects: dict[str, EngineObject] = {}
    services = {}
    for name in profile.upgraded:
        service = _service(profile, name, profile.compose["services"][name], release, options, objects)
        if name == profile.model.entry.service and publish is not None:
            service["ports"] = [{"target": profile.model.entry.port, "published": publish, "protocol": "tcp",
                                 "mode": "host"}]
        services[name] = service
    networks = {net: {"external": True, "name": _network_name(profile, net)}
                for net in sorted({n for s in services.values() for n in _service_networks(s)})}
    document = {"version": "3.8", "services": services, **_top_level(profile, objects), "networks": networks}
    return Rendered(yaml.safe_dump(document, sort_keys=False), tuple(objects.values()))


def _service(profile: Profile, name: str, spec: dict, release: str, options: StackOptions,
             objects: dict[str, EngineObject]) -> dict:
    upgraded = name in profile.upgraded
    service = {key: value for key, value in spec.items() if key not in DROPPED_KEYS}
    if upgraded and release == BROKEN:
        service.pop("healthcheck", None)  # the broken image's own HEALTHCHECK, which never passes, counts
    service["image"] = image_ref(options, profile.name, name, release if upgraded else BASE_TAG)
    environment = _environment(profile, spec)
    if environment:
        service["environment"] = environment
    deploy = dict(spec.get("deploy") or {})
    deploy["endpoint_mode"] = "dnsrr"
    if upgraded and deploy.get("mode") != "global":
        deploy["replicas"] = options.replicas
    if name in profile.model.stateful:
        placement = dict(deploy.get("placement") or {})
        placement["constraints"] = [*(placement.get("constraints") or []), PLACEMENTS[options.stateful_placement]]
        deploy["placement"] = placement
    service["deploy"] = deploy
    service.setdefault("networks", ["default"])
    return service


def _environment(profile: Profile, spec: dict) -> dict[str, str]:
    """``env_file`` entries (read here: the manager does not have them) under the service's own environment."""
    merged: dict[str, str] = {}
    files = spec.get("env_file") or []
    for file in [files] if isinstance(files, str) else files:
        merged.update(_read_env_file(_compose_dir(profile) / (file if isinstance(file, str) else file["path"])))
    environment = spec.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment if "=" in item)
    merged.update({key: "" if value is None else str(value) for key, value in environment.items()})
    return merged


def _read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def _top_level(profile: Profile, objects: dict[str, EngineObject]) -> dict:
    """Volumes as they are; configs and secrets made from files become engine objects named by their content."""
    document: dict = {}
    if profile.compose.get("volumes"):
        document["volumes"] = profile.compose["volumes"]
    for kind in ("config", "secret"):
        declared = profile.compose.get(f"{kind}s") or {}
        rewritten = {}
        for name, spec in declared.items():
            if isinstance(spec, dict) and "file" in spec:
                made = _object(kind, (_compose_dir(profile) / spec["file"]).read_bytes())
                objects[made.name] = made
                spec = {"external": True, "name": made.name}
            rewritten[name] = spec
        if rewritten:
            document[f"{kind}s"] = rewritten
    return document


def _networks(profile: Profile) -> dict:
    """The user's networks as overlays (a bridge network cannot span nodes), and the default one."""
    networks = {name: {k: v for k, v in (spec or {}).items() if k != "driver" or v == "overlay"}
                for name, spec in (profile.compose.get("networks") or {}).items()}
    networks.setdefault("default", {})
    return networks


def _network_name(profile: Profile, key: str) -> str:
    """The engine's name of a compose network of the blue stack: its own ``name``, else ``chaos_<key>``."""
    spec = (profile.compose.get("networks") or {}).get(key) or {}
    if spec.get("name"):
        return spec["name"]
    return key if spec.get("external") else f"{STACK_NAME}_{key}"


def _service_networks(service: dict) -> list[str]:
    networks = service.get("networks") or ["default"]
    return list(networks) if isinstance(networks, (list, dict)) else ["default"]


def _lb_service(options: StackOptions, networks: list[str]) -> dict:
    return {
        "image": options.lb_image,
        "configs": [{"source": LB_CONFIG, "target": "/etc/haproxy/haproxy.cfg"}],
        "ports": [{"target": port, "published": port, "protocol": "tcp", "mode": "host"}
                  for port in LB_PORTS.values()],
        "networks": networks,
        "deploy": {"replicas": 1, "endpoint_mode": "dnsrr",
                   "placement": {"constraints": [f"node.labels.{LB_LABEL} == true"]}},
    }


def _object(kind: str, data: bytes) -> EngineObject:
    return EngineObject(kind, f"chaos-{kind}-{hashlib.sha256(data).hexdigest()[:16]}", data)


def _compose_dir(profile: Profile) -> Path:
    return profile.relative(profile.model.compose).parent
