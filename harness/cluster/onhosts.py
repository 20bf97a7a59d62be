"""A cluster on hosts reached over SSH (an inventory's, or Vagrant VMs): readying them for the cluster's
registries, their Swarm, and releasing them again. ``Cluster`` calls these; the checks before anything is made
are ``hostcheck``, the host set-up is ``hostsetup``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from harness.cluster.fingerprint import FingerprintRecord
from harness.cluster.config import GREEN_STACK, LB_LABEL, STACK_NAME, STATEFUL_LABEL, ClusterState
from harness.cluster.hostsetup import DAEMON_JSON, TRUSTED, RunOn, point_registry_names, trust_registries
from harness.cluster.hostsetup import undo as undo_host_setup
from harness.cluster.inventory import Inventory
from harness.cluster.registry import NODE_REGISTRY, SECURE_REGISTRY
from harness.engine.swarm import SwarmEngine
from harness.errors import ClusterError, HarnessError
from harness.waiting import wait_until

RunnerFor = Callable[[str], RunOn]  # node name -> that host's command runner
Save = Callable[[], None]  # saves the cluster's state
# The stacks' task containers on a host: gone once its engine learnt the stacks were removed (a host that was
# away learns it when it is back), else removed after 30 s.
REMOVE_STACK_CONTAINERS = ["sh", "-c", f"""
stacks() {{ docker ps -aq --filter label=com.docker.stack.namespace={STACK_NAME}; \
            docker ps -aq --filter label=com.docker.stack.namespace={GREEN_STACK}; }}
for attempt in $(seq 30); do [ -z "$(stacks)" ] && exit 0; sleep 1; done
stacks | xargs -r docker rm -f >/dev/null"""]
# The stack's data volumes (their containers may take a moment to go), and the bridge a Swarm join made.
REMOVE_STACK_VOLUMES = ["sh", "-c", f"""
volumes=$(docker volume ls --format '{{{{.Name}}}}' | grep -E '^({STACK_NAME}|{GREEN_STACK})_')
[ -z "$volumes" ] && exit 0
for attempt in $(seq 30); do docker volume rm $volumes >/dev/null 2>&1 && exit 0; sleep 1; done
docker volume rm $volumes"""]
# A host that was away while the stacks were removed may keep their networks after it left the Swarm; Swarm's
# own ingress network goes a moment after the leave (waited for, at most 30 s, never removed here).
REMOVE_STACK_NETWORKS = ["sh", "-c", f"""
for attempt in $(seq 30); do [ -z "$(docker network ls -q --filter name='^ingress$')" ] && break; sleep 1; done
stack_networks() {{ docker network ls --format '{{{{.Name}}}}' | grep -E '^({STACK_NAME}|{GREEN_STACK})_'; }}
for attempt in $(seq 30); do
  networks=$(stack_networks) || exit 0
  docker network rm $networks >/dev/null 2>&1 && exit 0; sleep 1
done
networks=$(stack_networks) || exit 0
docker network rm $networks"""]
# The bridge keeps an endpoint for a while after the host left the Swarm (its ingress sandbox going away); made
# by the harness's Swarm (the fingerprint had no bridge), its endpoints are that Swarm's: disconnected if they stay.
REMOVE_GWBRIDGE = ["sh", "-c", """
docker network inspect docker_gwbridge >/dev/null 2>&1 || exit 0
for attempt in $(seq 10); do docker network rm docker_gwbridge >/dev/null 2>&1 && exit 0; sleep 1; done
for endpoint in $(docker network inspect docker_gwbridge --format '{{range $id, $e := .Containers}}{{$e.Name}} {{end}}'); do
  docker network disconnect -f docker_gwbridge "$endpoint" >/dev/null 2>&1
done
docker network rm docker_gwbridge >/dev/null"""]
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
    if not state.swarm_joined:  # the first up (check_hosts made sure no host is in a swarm)
        state.swarm_joined = list(state.nodes)  # recorded first: a failure halfway is rolled back too
        save()
    engine.form(state.node_ips, state.managers)


def release(state: ClusterState, engine: SwarmEngine, runner: RunnerFor, save: Save, *, rollback: bool,
            keep_swarm: bool, keep_data: bool, before: FingerprintRecord | None) -> list[str]:
    """Undo on the hosts what the harness did: its stacks, objects, images and data volumes, the Swarm it
    formed (and the ``docker_gwbridge`` network joining it made), or its labels on the hosts' own Swarm, the
    registry line in /etc/hosts and the engine configuration it changed. Return what could NOT be undone.

    Each step done is recorded in the state, so that ``down`` run again after a failure does only the rest.
    A host that cannot be reached fails its own steps, and the other hosts are still released.
    ``rollback``: a first up failed, so nothing was deployed. ``keep_data``: the stack's volumes stay.
    """
    steps: list[tuple[str, str | None, Callable[[], object]]] = []  # what, the host it needs, the step
    if not rollback:
        steps.append(("stacks and Swarm objects", state.manager,
                      lambda: engine.remove_own_objects([STACK_NAME, GREEN_STACK])))
        for node in state.nodes:
            steps += [(f"stack containers on {node}", node, lambda node=node: _checked(runner(node),
                                                                                       REMOVE_STACK_CONTAINERS)),
                      (f"registry images on {node}", node, lambda node=node: _checked(runner(node),
                                                                                     FORGET_REGISTRY_IMAGES))]
        steps += [(f"stack volumes on {node}", node, lambda node=node: _checked(runner(node), REMOVE_STACK_VOLUMES))
                  for node in state.nodes if not keep_data]
    if not state.swarm_formed:
        steps += [(f"labels of {node}", state.manager,
                   lambda node=node: engine.unlabel_node(node, [LB_LABEL, STATEFUL_LABEL])) for node in state.nodes]
    elif not keep_swarm:
        leaving = [node for node in reversed(state.nodes) if node in state.swarm_joined]
        steps += [(f"{node} left the swarm", node, lambda node=node: engine.leave(node)) for node in leaving]
        steps += [(f"stack networks on {node}", node, lambda node=node: _checked(runner(node), REMOVE_STACK_NETWORKS))
                  for node in leaving]
        steps += [(f"docker_gwbridge on {node}", node, lambda node=node: _checked(runner(node), REMOVE_GWBRIDGE))
                  for node in leaving if before is not None and _lacked_gwbridge(before, node)]
    steps += [(f"registry set-up on {node}", node, lambda node=node: undo_host_setup(
        runner(node), state.name, node in state.engines_changed)) for node in state.nodes]
    steps = [step for step in steps if step[0] not in state.undone]
    unreachable = {node: problem for node in {host for _, host, _ in steps} if (problem := _unreachable(runner(node)))}
    failed: list[str] = []
    for what, host, step in steps:
        if host in unreachable:
            failed.append(f"{what}: {unreachable[host]}")
            continue
        try:
            step()
        except HarnessError as error:
            failed.append(f"{what}: {error}")
            continue
        state.undone.append(what)
        save()
    return failed


def _unreachable(run: RunOn) -> str | None:
    """Why a host's commands cannot run (no login, no answer), or None."""
    try:
        run(["true"], None)
    except ClusterError as error:
        return str(error)
    return None


def stack_volume(section: str, line: str) -> bool:
    """Whether a fingerprint line is a volume of the harness's stacks (kept by ``down --keep-data``)."""
    return section == "volumes" and line.startswith((f"{STACK_NAME}_", f"{GREEN_STACK}_"))


def _lacked_gwbridge(before: FingerprintRecord, node: str) -> bool:
    fingerprint = before.of(node)
    return fingerprint is not None and not any(line.startswith("docker_gwbridge ")
                                               for line in fingerprint.sections.get("networks", []))


def _checked(run: RunOn, argv: list[str]) -> None:
    result = run(argv, None)
    if not result.ok:
        raise ClusterError(result.output.strip()[-300:] or f"exit status {result.exit_code}")


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
