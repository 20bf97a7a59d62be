"""Hosts checked before the first ``up`` makes anything: every problem on every host, in one message.

What keeps the harness off a host, each with what to do: no login, no root
through the login, no Docker for the login, another hostname, missing tools
(with their Debian packages), the wrong Swarm membership, traces another
cluster of the harness left, and objects named like the stacks the harness
deploys (a deploy would adopt them).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from harness.cluster.config import GREEN_STACK, STACK_NAME
from harness.cluster.registry import REGISTRY_ALIAS, SECURE_ALIAS
from harness.cluster.sshnodes import SshNodes
from harness.cluster.vms import VagrantVms
from harness.errors import ClusterError
from harness.faults.nodeshell import RULE_COMMENT

# What the faults run on a host, and the Debian package of each.
HOST_PACKAGES = {"iptables": "iptables", "socat": "socat", "pidof": "procps", "mountpoint": "util-linux",
                 "getent": "libc-bin", "awk": "mawk", "timeout": "coreutils"}
# One pass over a host before anything is made: missing tools, Swarm state, traces of the harness, objects
# named like its stacks. Each line is "KIND DETAIL".
SURVEY = rf"""
for tool; do command -v "$tool" >/dev/null || echo "missing $tool"; done
echo "swarm $(docker info --format '{{{{.Swarm.LocalNodeState}}}}' 2>&1 | tr '\n' ' ' | sed 's/ *$//')"
grep -s -F '# chaos-harness' /etc/hosts | sed 's/^/trace a line in \/etc\/hosts: /'
ls -d /etc/docker/daemon.json.chaos-harness-* /run/chaos-harness /run/chaos-harness/* 2>/dev/null | sed 's/^/trace /'
iptables -w -S 2>/dev/null | grep -e '--comment "\?{RULE_COMMENT}' | sed 's/^/trace the firewall rule /'
grep -v -F '# chaos-harness' /etc/hosts | grep -E '^[^#]*[[:space:]]({REGISTRY_ALIAS}|{SECURE_ALIAS})([[:space:]]|$)' \
  | sed 's/^/names /'
docker volume ls --format 'volume {{{{.Name}}}}' | grep -E ' ({STACK_NAME}|{GREEN_STACK})_' | sed 's/^/object /'
docker network ls --format 'network {{{{.Name}}}}' | grep -E ' ({STACK_NAME}|{GREEN_STACK})_' | sed 's/^/object /'
docker ps -a --format 'container {{{{.Names}}}}' | grep -E ' ({STACK_NAME}|{GREEN_STACK})_' | sed 's/^/object /'
exit 0
"""


def check_hosts(nodes: SshNodes | VagrantVms, names: list[str], swarm: str = "form",
                kubernetes: Callable[[str], list[str]] | None = None) -> None:
    """Every host checked at once before anything is made; one error listing every problem on every host.

    ``swarm``: ``form`` (each host must be in no Swarm) or ``existing`` (each must be in one).
    ``kubernetes``: the hosts are for a Kubernetes node (its own tools, in its container; no Swarm): what keeps
    one off a host beside its login, root, Docker and the harness's traces.
    """
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        found = [problem for problems in pool.map(lambda node: host_problems(nodes, node, swarm, kubernetes), names)
                 for problem in problems]
    if found:
        raise ClusterError("the hosts are not ready; nothing was changed on them:\n" +
                           "\n".join(f"  - {problem}" for problem in found))


def host_problems(nodes: SshNodes | VagrantVms, node: str, swarm: str = "form",
                  kubernetes: Callable[[str], list[str]] | None = None) -> list[str]:
    """What keeps the harness off one host (see the module's docstring), each problem with what to do; for a
    Kubernetes node (``kubernetes``: its own checks), no Swarm's."""
    try:
        result = nodes.exec(node, ["hostname"])
    except ClusterError as error:
        return [str(error)]
    if not result.ok:
        return [f"{node}: commands as root fail ({result.output.strip()[-300:]}); the login needs passwordless "
                "sudo (or log in as root with become: root)"]
    problems = []
    if problem := nodes.docker_problem(node):
        user = nodes.logins[node].user
        problems.append(f"{node}: {user} cannot use Docker ({problem}); Docker's SSH transport runs as the login: "
                        f"add it to the docker group (usermod -aG docker {user}) or log in as root")
    survey = nodes.exec(node, ["sh", "-c", SURVEY, "survey", *HOST_PACKAGES]).output.splitlines()
    found = {kind: [line.split(" ", 1)[1] for line in survey if line.startswith(f"{kind} ")]
             for kind in ("missing", "swarm", "trace", "object", "names")}
    problems += [f"{node} has {trace}, left by a cluster of the harness: take that cluster down "
                 "(chaos-harness --cluster NAME down), or remove it" for trace in found["trace"]]
    problems += [f"{node}'s /etc/hosts names {REGISTRY_ALIAS} or {SECURE_ALIAS} already ({line.strip()}); the "
                 "host must reach the cluster's registries by these names and that line would win over the "
                 "harness's: take the names out of it" for line in found["names"]]
    if kubernetes is not None:  # the node's tools are in its container (which copies the host's /etc/hosts)
        return problems + kubernetes(node)
    if result.output.strip() != node:
        problems.append(f"{node} calls itself {result.output.strip()!r}; Swarm knows nodes by their hostname: "
                        f"name the host {result.output.strip()!r} in the inventory")
    if missing := found["missing"]:
        problems.append(f"{node} lacks {', '.join(missing)}, which the faults run there; install them "
                        f"(Debian: apt-get install {' '.join(sorted({HOST_PACKAGES[t] for t in missing}))})")
    state = (found["swarm"] or ["unknown"])[0]
    if swarm == "form" and state != "inactive":
        problems.append(f"{node} is in a swarm already ({state}); `swarm: existing` in the inventory uses it, "
                        "or make it leave (docker swarm leave)")
    if swarm == "existing" and state != "active":
        problems.append(f"{node} is in no swarm ({state}), but the inventory says swarm: existing; join it to "
                        "the swarm, or say swarm: form")
    problems += [f"{node} has {thing}, named like what the harness deploys (stacks {STACK_NAME} and {GREEN_STACK}): "
                 "the harness would adopt it; remove or rename it" for thing in found["object"]]
    return problems
