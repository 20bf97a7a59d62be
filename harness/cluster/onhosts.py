"""A cluster on hosts reached over SSH (an inventory's, or Vagrant VMs): checking them, readying them for
the cluster's registries, their Swarm, and releasing them again. ``Cluster`` calls these; the host set-up is
``hostsetup``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from harness.cluster.config import GREEN_STACK, LB_LABEL, STACK_NAME, STATEFUL_LABEL, ClusterState
from harness.cluster.hostsetup import DAEMON_JSON, TRUSTED, RunOn, point_registry_names, trust_registries
from harness.cluster.hostsetup import undo as undo_host_setup
from harness.cluster.inventory import Inventory
from harness.cluster.registry import NODE_REGISTRY, SECURE_REGISTRY
from harness.cluster.sshnodes import SshNodes
from harness.cluster.vms import VagrantVms
from harness.engine.swarm import SwarmEngine
from harness.errors import ClusterError, HarnessError
from harness.waiting import wait_until

RunnerFor = Callable[[str], RunOn]  # node name -> that host's command runner
Save = Callable[[], None]  # saves the cluster's state
# What the faults run on a host, and the Debian package of each.
HOST_PACKAGES = {"iptables": "iptables", "socat": "socat", "pidof": "procps", "mountpoint": "util-linux",
                 "getent": "libc-bin", "awk": "mawk", "timeout": "coreutils"}
# On a host being released: every image pulled from the cluster's registries (by their names), nothing else.
FORGET_REGISTRY_IMAGES = ["sh", "-c", "docker image ls --format '{{.Repository}}:{{.Tag}} {{.ID}}' | "
                                      f"grep -E '^({NODE_REGISTRY}|{SECURE_REGISTRY})/' | cut -d' ' -f2 | "
                                      "sort -u | xargs -r docker image rm -f >/dev/null"]


def addresses(inventory: Inventory) -> dict[str, str]:
    """Host name -> IP address, the manager first and the stateful host last (Swarm advertises IP addresses)."""
    return {host.name: _resolved(host.address) for host in inventory.ordered()}


def address_towards(address: str) -> str:
    """This machine's address on the route to ``address`` (no packet is sent): where the hosts reach it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((address, 22))
        return probe.getsockname()[0]


def check_host(nodes: SshNodes | VagrantVms, node: str) -> None:
    """Root through the login (sudo -n), Docker for the login, the host's own name as Swarm will know it, and
    the tools the faults run there; each missing with what to do."""
    result = nodes.exec(node, ["hostname"])
    if not result.ok:
        raise ClusterError(f"{node}: commands as root fail ({result.output.strip()[-300:]}); the login needs "
                           "passwordless sudo (or log in as root with become: root)")
    if problem := nodes.docker_problem(node):
        user = nodes.logins[node].user
        raise ClusterError(f"{node}: {user} cannot use Docker ({problem}); Docker's SSH transport runs as the "
                           f"login: add it to the docker group (usermod -aG docker {user}) or log in as root")
    if result.output.strip() != node:
        raise ClusterError(f"{node} calls itself {result.output.strip()!r}; Swarm knows nodes by their hostname: "
                           f"name the host {result.output.strip()!r} in the inventory")
    missing = nodes.exec(node, ["sh", "-c", 'for tool; do command -v "$tool" >/dev/null || echo "$tool"; done',
                                "tools", *HOST_PACKAGES]).output.split()
    if missing:
        raise ClusterError(f"{node} lacks {', '.join(missing)}, which the faults run there; install them "
                           f"(Debian: apt-get install {' '.join(sorted({HOST_PACKAGES[t] for t in missing}))})")


def ready_for_registries(state: ClusterState, engine: SwarmEngine, runner: RunnerFor, save: Save) -> None:
    """Every host resolves the registry names to this machine and its engine trusts them (see hostsetup)."""
    for node in state.nodes:
        run = runner(node)
        point_registry_names(run, state.name, state.registry_address)
        if trust_registries(run, state.name, set(_index_configs(engine, node))) and node not in state.engines_changed:
            state.engines_changed.append(node)
            save()
        wait_until(lambda: _trusts(engine, node), timeout=20, what=f"the engine of {node} to trust {', '.join(TRUSTED)}",
                   hint=f"See the engine's log on {node}: a flag such as --insecure-registry and {DAEMON_JSON} "
                        "must not both set insecure-registries.")


def join(state: ClusterState, engine: SwarmEngine, save: Save) -> None:
    """Form the Swarm on the hosts (none of them in one before), or check that they all are in their own."""
    if not state.swarm_formed:
        members = {n.hostname for n in engine.nodes()}
        if missing := [node for node in state.nodes if node not in members]:
            raise ClusterError(f"swarm: existing, but {', '.join(missing)} not in the swarm {state.manager} "
                               "manages; join them, or list only its nodes")
        return
    if not state.swarm_joined:  # the first up: the harness only forms a Swarm on hosts outside any
        if busy := [node for node in state.nodes if engine.swarm_state(node) != "inactive"]:
            raise ClusterError(f"{', '.join(busy)} already in a swarm; `swarm: existing` in the inventory uses it, "
                               "or make them leave it (docker swarm leave)")
        state.swarm_joined = list(state.nodes)  # recorded first: a failure halfway is rolled back too
        save()
    engine.form(state.node_ips, state.managers)


def release(state: ClusterState, engine: SwarmEngine, runner: RunnerFor, rollback: bool,
            keep_swarm: bool) -> list[str]:
    """Undo on the hosts what the harness did: its stacks, objects and images, the Swarm it formed (or its
    labels on the hosts' own), the registry line in /etc/hosts and the engine configuration it changed.

    ``rollback``: a first up failed, so nothing was deployed. A host that cannot be reached is reported, and
    the rest is still undone.
    """
    steps: list[tuple[str, Callable[[], object]]] = []
    if not rollback:
        steps.append(("stacks and Swarm objects", lambda: engine.remove_own_objects([STACK_NAME, GREEN_STACK])))
        steps += [(f"registry images on {node}", lambda node=node: runner(node)(FORGET_REGISTRY_IMAGES, None))
                  for node in state.nodes]
    if not state.swarm_formed:
        steps += [(f"labels of {node}", lambda node=node: engine.unlabel_node(node, [LB_LABEL, STATEFUL_LABEL]))
                  for node in state.nodes]
    elif not keep_swarm:
        steps += [(f"{node} left the swarm", lambda node=node: engine.leave(node))
                  for node in reversed(state.nodes) if node in state.swarm_joined]
    steps += [(f"registry set-up on {node}", lambda node=node: undo_host_setup(
        runner(node), state.name, node in state.engines_changed)) for node in state.nodes]
    done = []
    for what, step in steps:
        try:
            step()
            done.append(what)
        except HarnessError as error:
            done.append(f"NOT undone: {what}: {error}")
    return done


def _index_configs(engine: SwarmEngine, node: str) -> dict:
    return engine.client(node).info().get("RegistryConfig", {}).get("IndexConfigs", {})


def _trusts(engine: SwarmEngine, node: str) -> bool:
    configs = _index_configs(engine, node)
    return all(name in configs and not configs[name].get("Secure", True) for name in TRUSTED)


def _resolved(address: str) -> str:
    try:
        return socket.gethostbyname(address)
    except OSError as error:
        raise ClusterError(f"cannot resolve host address {address!r}: {error}") from error
