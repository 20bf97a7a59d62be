"""Docker Swarm through each node's Docker API (docker SDK).

docker-py has no call for ``POST /services/{id}/update?rollback=previous`` and
its UpdateConfig defaults differ from Swarm's, so service updates are sent as
whole specs through the low-level API with every update field set.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timezone

import docker
from docker.errors import APIError, DockerException, NotFound
from requests import RequestException

from harness.dockerhost import LABEL_PREFIX
from harness.engine import FORMS
from harness.engine.base import (
    HOLD_DIR, Discovery, EngineObject, NodeInfo, NodeRuntime, RegistryAuth, ServiceSnapshot, TaskInfo, UpdatePolicy,
    UpdateState,
)
from harness.errors import EngineError, ServiceMissing
from harness.waiting import wait_until

NANOS = 1_000_000_000
OBJECT_LABEL = f"{LABEL_PREFIX}.object"
# Swarm's UpdateStatus.State in the harness's words.
UPDATE_STATES: dict[str, UpdateState] = {
    "updating": "updating", "completed": "completed", "paused": "paused",
    "rollback_started": "rolling_back", "rollback_completed": "rolled_back", "rollback_paused": "rollback_paused",
}
RunOn = Callable[[str, list[str], bytes | None], str]  # node, argv, stdin -> output; raises EngineError
Connect = Callable[[str], docker.DockerClient]  # node name -> a client for its engine


# The image of every container of a service whose processes still run, read from the
# engine's files and the kernel, not from the engine: a frozen engine cannot answer.
_CENSUS = r"""
cgroups=$(cat /proc/[0-9]*/cgroup 2>/dev/null)
for config in /var/lib/docker/containers/*/config.v2.json; do
  [ -f "$config" ] || continue
  grep -q "\"com.docker.swarm.service.name\":\"$1\"" "$config" || continue
  id=$(basename "$(dirname "$config")")
  case "$cgroups" in *"$id"*) ;; *) continue ;; esac
  grep -o '"Image":"[^"]*"' "$config" | sed 's/^"Image":"//; s/"$//' | grep -v '^sha256:' | head -n 1
done
"""
# Waits (at most 30 s) for the containers still running the images to stop (the tasks of a service prepare
# removed), then prunes exited containers: while one still uses an image, removing the tag leaves the image (and
# its digest) behind, and a deploy that pins the digest (`docker stack deploy`) would start without a pull.
_FORGET = r"""
users() { for image; do docker ps -q --filter "ancestor=$image"; done; }
for _ in $(seq 120); do [ -z "$(users "$@")" ] && break; sleep 0.25; done
docker container prune -f >/dev/null; docker image rm -f "$@"
"""

# Kills (SIGKILL) one running task container of the service $1 and prints the id of its task.
_KILL = r"""
container=$(docker ps -q --filter "label=com.docker.swarm.service.name=$1" | head -n 1)
[ -n "$container" ] || { echo "no running task container of $1" >&2; exit 1; }
task=$(docker inspect -f '{{index .Config.Labels "com.docker.swarm.task.id"}}' "$container") || exit 1
docker kill "$container" >/dev/null && echo "$task"
"""

# A port is held by a process bound to it (socat, its PID in SQUATTER_PID_FILE): a task that publishes the port
# in host mode on the node fails with "address already in use". $1 = the port.
SQUATTER_PID_FILE = f"{HOLD_DIR}/port-{{port}}.pid"
_SQUATTER = f'pid_file={SQUATTER_PID_FILE.format(port="$1")}; pid=$(cat "$pid_file" 2>/dev/null); '
_HOLD = _SQUATTER + f"""[ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = socat ] && exit 0
mkdir -p {HOLD_DIR}
socat TCP-LISTEN:$1,bind=0.0.0.0,reuseaddr,fork EXEC:/bin/true >/dev/null 2>&1 &
echo $! > "$pid_file"
"""
_RELEASE = _SQUATTER + f"""[ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = socat ] && kill "$pid"
rm -f "$pid_file"; rmdir {HOLD_DIR} 2>/dev/null; true
"""
# Each squatter's port, and whether its process runs and something listens on the port.
_HOLDS = f"""
for pid_file in {SQUATTER_PID_FILE.format(port="*")}; do
  [ -e "$pid_file" ] || continue
  port=${{pid_file##*/port-}}; port=${{port%.pid}}; pid=$(cat "$pid_file")
  if [ "$(cat /proc/$pid/comm 2>/dev/null)" = socat ] && ss -Hltn "sport = :$port" | grep -q .; then
    echo "$port held"
  else
    echo "$port idle"
  fi
done
"""

# A login in a Docker configuration directory of its own, removed after: no credentials (and no config.json)
# are left on the node. The password comes on standard input.
_LOGIN = ('config=$(mktemp -d /tmp/chaos-harness-login.XXXXXX) || exit 1; '
          'docker --config "$config" login "$1" -u "$2" --password-stdin 2>&1; rm -rf "$config"')


class SwarmEngine:
    """Docker Swarm across the cluster's nodes; node 1 is the manager."""

    # Swarm's DNS inside every container; tasks.<service> names every task (endpoint_mode dnsrr)
    discovery = Discovery("127.0.0.11:53", "tasks.{stack}_{service}")
    overlay_port = 4789  # VXLAN
    forms = FORMS["swarm"]
    runtime = NodeRuntime(frozen=("dockerd", "containerd"), crashed=("dockerd",),
                          answers=("docker", "info", "--format", "{{.ID}}"), census=_CENSUS, kill=_KILL, forget=_FORGET,
                          pull='docker image rm -f "$1" >/dev/null 2>&1; timeout 8 docker pull "$1"',
                          pull_area="/var/lib/docker/tmp", login=_LOGIN)

    def __init__(self, nodes: Sequence[str], connect: Connect, manager: str, run_on: RunOn) -> None:
        self._nodes = tuple(nodes)
        self._connect = connect
        self._manager_name = manager
        self._run_on = run_on
        self._clients: dict[str, docker.DockerClient] = {}

    def client(self, node: str) -> docker.DockerClient:
        """A Docker client for one node's engine."""
        if node not in self._clients:
            self._clients[node] = self._translate(f"reach the engine of {node}", lambda: self._connect(node))
        return self._clients[node]

    @property
    def manager(self) -> docker.DockerClient:
        return self.client(self._manager_name)

    # -- formation -----------------------------------------------------------------

    def wait_for_engines(self, timeout: float = 60) -> None:
        """Wait until every node's Docker API answers."""
        for node in self._nodes:
            wait_until(lambda: self.client(node).ping(), timeout=timeout, what=f"the Docker engine on {node}",
                       hint="See the node's log with `docker logs <cluster>-<node>`.")

    def form(self, node_ips: dict[str, str], managers: Collection[str] = ()) -> None:
        """Init the swarm on the manager and join every other node (``managers`` as managers too); idempotent."""
        manager_ip = node_ips[self._manager_name]
        if self._swarm_state(self._manager_name) != "active":
            self._translate("init the swarm", lambda: self.manager.swarm.init(
                advertise_addr=manager_ip, listen_addr=f"{manager_ip}:2377"))
        self.manager.swarm.reload()
        tokens = self.manager.swarm.attrs["JoinTokens"]
        for node, ip in node_ips.items():
            if node != self._manager_name and self._swarm_state(node) != "active":
                token = tokens["Manager" if node in managers else "Worker"]
                self._translate(f"join {node} to the swarm", lambda: self.client(node).swarm.join(
                    remote_addrs=[f"{manager_ip}:2377"], join_token=token, advertise_addr=ip, listen_addr=f"{ip}:2377"))
        wait_until(lambda: all(n.state == "ready" for n in self.nodes()) and len(self.nodes()) >= len(node_ips),
                   timeout=60, what="every node Ready in the swarm")

    def label_node(self, hostname: str, labels: dict[str, str]) -> None:
        """Set labels (host tags) on a swarm node, keeping the others."""
        node = self._node_object(hostname)
        spec = dict(node.attrs["Spec"])
        spec["Labels"] = {**spec.get("Labels", {}), **labels}
        self._translate(f"label {hostname}", lambda: node.update(spec))

    def unlabel_node(self, hostname: str, keys: Iterable[str]) -> None:
        """Remove labels from a swarm node, keeping the others."""
        node = self._node_object(hostname)
        spec = dict(node.attrs["Spec"])
        spec["Labels"] = {k: v for k, v in (spec.get("Labels") or {}).items() if k not in set(keys)}
        self._translate(f"unlabel {hostname}", lambda: node.update(spec))

    def swarm_state(self, node: str) -> str:
        """The node's own view: ``inactive`` (in no swarm), ``active``, ``pending``, ``error`` or ``locked``."""
        return self._translate(f"ask {node} for its swarm state", lambda: self._swarm_state(node))

    def leave(self, node: str) -> None:
        """The node leaves the swarm (forced: the last manager takes the swarm with it); nothing if not in one."""
        if self.swarm_state(node) != "inactive":
            self._translate(f"make {node} leave the swarm", lambda: self.client(node).swarm.leave(force=True))

    def remove_own_objects(self, stacks: Iterable[str]) -> None:
        """Remove ``stacks`` and the configs and secrets the harness made (labelled), waiting for the stacks."""
        for stack in stacks:
            self.remove_stack(stack)
        label = {"label": f"{OBJECT_LABEL}=true"}
        for collection in (self.manager.configs, self.manager.secrets):
            for item in self._translate("list the harness's objects", lambda: collection.list(filters=label)):
                self._translate(f"remove {item.name}", item.remove)

    def version(self) -> str:
        """``Docker Swarm`` and the manager's Docker engine version."""
        return f"Docker Swarm {self._translate('ask the engine its version', self.manager.version)['Version']}"

    def nodes(self) -> list[NodeInfo]:
        """Every swarm node with state, availability, role and labels."""
        return [self._node_info(n.attrs) for n in self._translate("list nodes", self.manager.nodes.list)]

    @staticmethod
    def _node_info(attrs: dict) -> NodeInfo:
        state, spec = attrs["Status"]["State"], attrs["Spec"]
        availability, role = spec.get("Availability", "active"), spec.get("Role", "worker")
        return NodeInfo(hostname=attrs["Description"]["Hostname"], state=state, availability=availability, role=role,
                        labels=dict(spec.get("Labels") or {}))

    # -- stacks and services ---------------------------------------------------------------

    def deploy_stack(self, stack: str, compose: str, auth: RegistryAuth | None = None,
                     pin_digests: bool = True, manifests: Sequence[dict] = ()) -> None:
        """``docker stack deploy`` on the manager: the CLI is the reference compose translator.

        With ``auth`` the manager logs in (password on stdin) and the stack is
        deployed ``--with-registry-auth``, so the tasks carry the credentials;
        both in a Docker configuration directory of their own, removed after,
        so that the manager's own ``~/.docker/config.json`` is never written.
        ``pin_digests`` resolves tags to digests first; without it, nodes look
        images up by tag, as a rolling update does.
        """
        if manifests:
            raise EngineError("Swarm deploys compose files, not Kubernetes objects")
        resolve = "always" if pin_digests else "never"
        argv = ["docker", "stack", "deploy", "--resolve-image", resolve, "--prune", "-c", "-", stack]
        if auth is None:
            self._on_manager(argv, compose.encode())
            return
        config = self._on_manager(["mktemp", "-d", "/tmp/chaos-harness-login.XXXXXX"], None).strip()
        try:
            self._on_manager(["docker", "--config", config, "login", auth.server, "-u", auth.username,
                                  "--password-stdin"], auth.password.encode())
            self._on_manager(["docker", "--config", config, *argv[1:3], "--with-registry-auth", *argv[3:]],
                                 compose.encode())
        finally:
            self._on_manager(["rm", "-rf", "--", config], None)  # no credentials left on the node

    def remove_stack(self, stack: str, timeout: float = 60) -> None:
        """``docker stack rm``, waiting until its services and networks are gone; nothing to do if it is not deployed.

        The networks go after the services, asynchronously: a deploy of the same
        stack in between fails with "network ... not found". A network a task
        still uses while it stops is refused ("in use by task"): ``stack rm`` is
        asked again until nothing of the stack is left.
        """
        label = {"label": f"com.docker.stack.namespace={stack}"}
        def remaining() -> list:
            return self._translate("list services", lambda: self.manager.services.list(filters=label)) + \
                self._translate("list networks", lambda: self.manager.networks.list(filters=label))

        def removed() -> bool:
            if remaining():
                self._on_manager(["docker", "stack", "rm", stack], None)
            return not remaining()
        wait_until(removed, timeout=timeout, interval=2.0,
                   what=f"the services and networks of stack {stack} to be removed")

    def remove_service(self, name: str) -> None:
        """``docker service rm``, without waiting for its tasks to stop; nothing to do if it does not exist."""
        try:
            service = self._service_object(name)
        except ServiceMissing:
            return
        self._translate(f"remove service {name}", service.remove)

    def service(self, name: str) -> ServiceSnapshot:
        """Spec image, replicas, UpdateStatus and tasks of one service."""
        service = self._service_object(name)
        spec = service.attrs["Spec"]
        status = service.attrs.get("UpdateStatus") or {}
        hostnames = {n.id: n.attrs["Description"]["Hostname"] for n in self.manager.nodes.list()}
        tasks = tuple(
            TaskInfo(
                id=t["ID"],
                slot=t.get("Slot", 0),
                node=hostnames.get(t.get("NodeID", ""), ""),
                image=t["Spec"]["ContainerSpec"]["Image"],
                desired_state=t["DesiredState"],
                state=t["Status"]["State"],
                error=t["Status"].get("Err", ""),
                timestamp=_epoch(t["Status"].get("Timestamp")),
                addresses=tuple(address.split("/")[0] for network in t.get("NetworksAttachments") or []
                                for address in network.get("Addresses") or []),
            )
            for t in self._translate(f"list tasks of {name}", service.tasks)
        )
        return ServiceSnapshot(
            name=name,
            image=spec["TaskTemplate"]["ContainerSpec"]["Image"],
            replicas=spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0),
            update_state=UPDATE_STATES.get(status.get("State", "")),
            update_message=status.get("Message", ""),
            update_started_at=_epoch(status.get("StartedAt")) or None,
            tasks=tasks,
        )

    def service_logs(self, service: str, since: float) -> str:
        """Every task container's output of ``service`` since ``since`` (epoch seconds), timestamped.

        Read from each node's own engine: ``docker service logs`` waits
        forever for a task whose node went away during the run.
        """
        self._service_object(service)  # raises ServiceMissing for a service that is not deployed
        parts = []
        for node in self._nodes:
            try:
                containers = self.client(node).containers.list(
                    all=True, filters={"label": f"com.docker.swarm.service.name={service}"})
                for container in containers:
                    text = container.logs(since=int(since), timestamps=True).decode(errors="replace")
                    if text:
                        parts.append(f"== {container.name} on {node} ==\n{text}")
            except (DockerException, RequestException, OSError) as error:
                parts.append(f"== {node}: its task logs could not be read: {error} ==\n")
        return "".join(parts)

    def update_image(self, service: str, image: str, policy: UpdatePolicy, publish: tuple[int, int] | None = None,
                     auth: RegistryAuth | None = None, image_health: bool = False) -> None:
        """Start a rolling update to ``image`` with every update field set from ``policy``.

        ``publish`` (host port, container port) makes the new version also
        publish a port on the hosts (host mode), as a release that opens a port does.
        ``image_health`` drops the service's own health check, so that the image's counts.
        """
        def change(spec: dict) -> None:
            spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
            if image_health:
                spec["TaskTemplate"]["ContainerSpec"].pop("Healthcheck", None)
            spec["UpdateConfig"] = _update_config(policy)
            spec["RollbackConfig"] = _update_config(policy, rollback=True)
            if publish is not None:
                endpoint = spec.setdefault("EndpointSpec", {"Mode": "dnsrr"})
                endpoint["Ports"] = [*endpoint.get("Ports", []), {"Protocol": "tcp", "TargetPort": publish[1],
                                                                   "PublishedPort": publish[0], "PublishMode": "host"}]
        self._update(service, change, auth=auth)

    def ensure_objects(self, objects: Iterable[EngineObject]) -> None:
        """Create Swarm configs and secrets unless they exist; their names are content hashes, so they never change."""
        for item in objects:
            collection = self.manager.configs if item.kind == "config" else self.manager.secrets
            if not self._translate(f"list {item.kind}s", lambda: collection.list(filters={"name": item.name})):
                self._translate(f"create {item.kind} {item.name}", lambda: collection.create(
                    name=item.name, data=item.data, labels={OBJECT_LABEL: "true"}))

    def force_redistribute(self, service: str) -> None:
        """Restart every task so the scheduler spreads them over the ready nodes again."""
        def change(spec: dict) -> None:
            spec["TaskTemplate"]["ForceUpdate"] = spec["TaskTemplate"].get("ForceUpdate", 0) + 1
        self._update(service, change)

    def rollback(self, service: str) -> None:
        """``POST /services/{id}/update?rollback=previous``."""
        self._update(service, lambda spec: None, rollback="previous")

    # -- faults -----------------------------------------------------------------------

    def hold_port(self, node: str, port: int) -> None:
        """A process (socat) on the node listens on ``port``: a task publishing it there fails to start."""
        self._run_on(node, ["sh", "-c", _HOLD, "hold", str(port)], None)

    def release_port(self, node: str, port: int) -> None:
        """Stop the squatter of ``port`` (by its recorded PID, if it still runs) and forget it."""
        self._run_on(node, ["sh", "-c", _RELEASE, "release", str(port)], None)

    def port_holds(self, node: str) -> dict[int, bool]:
        """Every squatter on the node: in effect while its process runs and the port is listened on."""
        output = self._run_on(node, ["sh", "-c", _HOLDS, "holds"], None)
        return {int(port): state == "held" for port, state in (line.split() for line in output.splitlines() if line)}

    def port_refused(self, node: str, port: int, image: str) -> str:
        """``docker run -p PORT:8080`` of ``image`` on the node, in the foreground and gone at once (so that the
        trial itself never holds the port): Docker's "address already in use"; any other failure is an error."""
        try:
            self._run_on(node, ["docker", "run", "--rm", "-p", f"{port}:8080", "--entrypoint", "true", image], None)
        except EngineError as error:
            if "address already in use" in str(error):
                return str(error)
            raise
        return ""

    def drain_node(self, node: str) -> str:
        """``docker node update --availability drain``: Swarm moves every task off the node by itself, never
        refusing (it has no disruption budgets), so nothing stands in the way."""
        self._set_availability(node, "drain")
        return ""

    def undrain_node(self, node: str) -> None:
        """``docker node update --availability active``."""
        self._set_availability(node, "active")

    # -- internals --------------------------------------------------------------------

    def _set_availability(self, hostname: str, availability: str) -> None:
        node = self._node_object(hostname)
        spec = dict(node.attrs["Spec"])
        if spec.get("Availability") != availability:
            self._translate(f"set the availability of {hostname} to {availability}",
                            lambda: node.update({**spec, "Availability": availability}))

    def _on_manager(self, argv: list[str], stdin: bytes | None) -> str:
        return self._run_on(self._manager_name, argv, stdin)

    def _update(self, name: str, change: Callable[[dict], None], auth: RegistryAuth | None = None,
                **params: str) -> None:
        service = self._service_object(name)
        spec = service.attrs["Spec"]
        change(spec)
        api = self.manager.api
        url = api._url("/services/{0}/update", service.id)
        query = {"version": service.attrs["Version"]["Index"], **params}
        headers = {"X-Registry-Auth": _registry_auth_header(auth)} if auth else {}
        self._translate(f"update {name}", lambda: api._raise_for_status(
            api._post_json(url, data=spec, params=query, headers=headers)))

    def _service_object(self, name: str):
        try:
            return self.manager.services.get(name)
        except NotFound as error:
            raise ServiceMissing(f"service {name} does not exist; was the stack deployed?") from error
        except DockerException as error:
            raise EngineError(f"cannot inspect service {name}: {error}") from error

    def _node_object(self, hostname: str):
        for node in self.manager.nodes.list():
            if node.attrs["Description"]["Hostname"] == hostname:
                return node
        raise EngineError(f"no swarm node named {hostname}")

    def _swarm_state(self, node: str) -> str:
        return self.client(node).info()["Swarm"]["LocalNodeState"]

    @staticmethod
    def _translate(what: str, operation):
        try:
            return operation()
        except APIError as error:
            raise EngineError(f"Swarm refused to {what}: {error.explanation or error}") from error
        except DockerException as error:
            raise EngineError(f"cannot {what}: {error}") from error


def _registry_auth_header(auth: RegistryAuth) -> str:
    """The value of Docker's ``X-Registry-Auth`` header: the credentials the tasks pull with."""
    document = {"username": auth.username, "password": auth.password, "serveraddress": auth.server}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def _update_config(policy: UpdatePolicy, rollback: bool = False) -> dict:
    # Swarm rejects failure_action "rollback" inside a rollback config.
    action = "pause" if rollback and policy.failure_action == "rollback" else policy.failure_action
    return {
        "Parallelism": policy.parallelism,
        "Delay": int(policy.delay * NANOS),
        "FailureAction": action,
        "Monitor": int(policy.monitor * NANOS),
        "MaxFailureRatio": policy.max_failure_ratio,
        "Order": policy.order,
    }


def _epoch(timestamp: str | None) -> float:
    """Docker's RFC 3339 timestamps (nanosecond precision) to epoch seconds; 0 when absent."""
    if not timestamp:
        return 0.0
    seconds, _, fraction = timestamp.rstrip("Z").partition(".")
    base = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + float(f"0.{fraction}" if fraction else 0)
