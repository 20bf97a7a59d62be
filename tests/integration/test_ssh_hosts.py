"""The ssh provider on hosts reachable only over SSH: cluster up, every fault, every seed scenario, down.

The hosts are node containers running sshd and dockerd whose Docker API is
published nowhere (tests/integration/ssh_hosts.py). The harness reaches them
with ``--provider ssh --inventory``; Docker's own event stream proves it
never execs into them another way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import docker
import paramiko
import pytest
import yaml

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.audit import audit
from harness.build import NODE_IMAGE, ImageBuilder
from harness.cluster import Cluster, ClusterConfig
from harness.engine.swarm import SwarmEngine
from harness.errors import ClusterError
from harness.faults.conformance import built_in_faults, exercise
from harness.journal import read_journal
from harness.runner import Runner
from harness.shipped import scenario_names, shipped_scenario
from harness.waiting import wait_until
from tests.integration.conftest import up_then_down
from tests.integration.ssh_hosts import USER, start_ssh_hosts
from tests.integration.test_crash_heal import sigkill_then_heal
from tests.integration.test_end_to_end import shortened

pytestmark = pytest.mark.docker
NAMES = ["node1", "node2", "node3"]
CLUSTER = "chaos-ssh"
PORTS = {"lb_port": 24080, "lb_admin_port": 24999, "registry_port": 24500, "toxiproxy_port": 24474}  # below 32768


USER_DAEMON_JSON = '{"log-level": "warn", "insecure-registries": ["myreg.example:5000"]}'
# A host as a person sees it, by the test's own login and not through the harness: what `down` must put back.
HOST_VIEW = r"""
cat /etc/hosts; echo; cat /etc/docker/daemon.json 2>/dev/null || echo 'no daemon.json'; echo
docker info --format '{{json .RegistryConfig}} {{.LiveRestoreEnabled}} {{.Swarm.LocalNodeState}}'
docker network ls --format '{{.Name}} {{.Driver}}' | sort; docker volume ls -q | sort; docker ps -aq
docker image ls --no-trunc -q | sort; iptables -w -S; ls /etc/docker /run/chaos-harness 2>/dev/null; exit 0
"""


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Three hosts: node1 and node2 without a daemon.json, node3 with its user's own settings in one. node1 (the
    manager) has no power commands in the inventory: node-halt may strike only the others."""
    directory = tmp_path_factory.mktemp("ssh-hosts")
    node_image = ImageBuilder(docker.from_env()).build(NODE_IMAGE)
    started = start_ssh_hosts(directory, "chaos-sshhost", node_image, NAMES)
    inventory = yaml.safe_load(started.inventory.read_text())
    del inventory["hosts"][0]["power_off"], inventory["hosts"][0]["power_on"]
    started.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))
    started.since = time.time()
    on_host(started, "node3", f"echo '{USER_DAEMON_JSON}' > /etc/docker/daemon.json && kill -HUP $(pidof dockerd)")
    wait_until(lambda: "myreg.example" in on_host(started, "node3", "docker info --format '{{json .RegistryConfig}}'"),
               timeout=20, what="node3's engine to trust its user's registry")
    started.views = {name: on_host(started, name, HOST_VIEW) for name in NAMES}
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ssh_cluster(hosts, tmp_path_factory):
    config = ClusterConfig(name=CLUSTER, provider="ssh", inventory=hosts.inventory,
                           workdir=tmp_path_factory.mktemp("chaos-home-ssh"), **PORTS)
    yield from up_then_down(config)


@pytest.fixture(scope="module")
def ssh_demo(ssh_cluster) -> App:
    return App.prepare(load_profile(DEFAULT_PROFILE), ssh_cluster.builder, ["old", "new"])


def on_host(hosts, name: str, command: str) -> str:
    """A command on a host over SSH, as the test's own login (not through the harness)."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(hosts.addresses[name], username=USER, key_filename=str(hosts.inventory.parent / "id_rsa"),
                   look_for_keys=False, allow_agent=False, timeout=10)
    try:
        _, stdout, _ = client.exec_command(f"sudo -n sh -c {json.dumps(command)}")
        return stdout.read().decode()
    finally:
        client.close()


def test_the_swarm_forms_on_hosts_reached_over_ssh_only(ssh_cluster, hosts):
    nodes = {n.hostname: n for n in ssh_cluster.engine.nodes()}
    assert sorted(nodes) == NAMES and all(n.state == "ready" for n in nodes.values())
    assert nodes["node1"].labels.get("chaos.lb") == "true" and nodes["node3"].labels.get("chaos.stateful") == "true"
    assert ssh_cluster.node_states() == {name: "running" for name in NAMES}
    assert "# chaos-harness chaos-ssh" in on_host(hosts, "node2", "cat /etc/hosts")
    assert "registry:5000" in on_host(hosts, "node2", "cat /etc/docker/daemon.json")


@pytest.mark.parametrize("kind", built_in_faults())
def test_every_fault_takes_effect_and_heals_over_ssh(ssh_cluster, ssh_demo, kind):
    trial = exercise(ssh_cluster, ssh_demo, kind, "node2")
    assert not trial.symptom_before and trial.held_after_inject and not trial.held_after_heal
    assert trial.effect_after > 0


def test_halting_the_host_without_power_commands_is_refused_before_anything_starts(ssh_cluster, tmp_path):
    scenario = yaml.safe_load(shipped_scenario("halted-node").read_text())
    scenario["faults"][0]["target"] = {"node": "node1"}
    (tmp_path / "halt.yaml").write_text(yaml.safe_dump(scenario))
    done = harness_cli(ssh_cluster.config.workdir, "--cluster", CLUSTER, "run", str(tmp_path / "halt.yaml"),
                       "--reports", str(tmp_path / "reports"))
    assert done.returncode == 2, done.stderr
    assert "node1 (the inventory gives it no power_off and power_on" in " ".join(done.stderr.split())
    (journal,) = (tmp_path / "reports").glob("*/journal.jsonl")
    events = read_journal(journal)
    assert [e.get("status") for e in events if e.type == "run.end"] == ["refused"]
    assert not [e for e in events if e.type in ("fault.inject", "upgrade.requested")]


def test_the_harness_never_execs_into_the_hosts(ssh_cluster, hosts):
    client = docker.from_env()
    ids = hosts.container_ids()
    execs = [e for e in client.events(since=int(hosts.since), until=int(time.time()) + 1, decode=True,
                                      filters={"type": "container", "event": "exec_create"})
             if e.get("id") in ids]
    assert execs == [], f"something exec'd into an SSH-only host: {execs[:3]}"


# The shipped scenarios that leave on the hosts what no fault's own trial above does: the authenticated registry's
# login from the hosts (registry-auth), a full disk under a running stack (disk-full). Every other shipped
# scenario's fault is tried over SSH above (node-halt powers a host off and on), and the scenario itself on the
# docker provider (halted-node, moving-stateful-db, registry-unreachable, frozen-daemon-rollback, ...).
ON_HOSTS = ("disk-full", "registry-auth")


def test_the_scenarios_run_on_hosts_are_shipped_ones():
    assert set(ON_HOSTS) <= set(scenario_names())


@pytest.mark.parametrize("seed", ON_HOSTS)
def test_every_seed_scenario_runs_on_real_hosts(ssh_cluster, ssh_demo, tmp_path, seed):
    """Each, shortened, ends with a report: what it does to the hosts is what `down` must undo
    (test_down_leaves_every_host_as_it_was)."""
    result = Runner(shortened(seed, warmup=4, observe=6, verify_window=4), ssh_cluster, tmp_path, ssh_demo).run()
    assert result.report["upgrade"]["outcome"] != "not_started", result.report["upgrade"]


def test_sigkill_then_heal_over_ssh_leaves_no_fault_behind(ssh_cluster, tmp_path):
    sigkill_then_heal(ssh_cluster, tmp_path)


def up_with(hosts, tmp_path, change) -> subprocess.CompletedProcess:
    """`cluster up` of a second cluster on the same hosts, through the CLI, with one change to the inventory."""
    inventory = yaml.safe_load(hosts.inventory.read_text())
    for host in inventory["hosts"]:
        host["key"] = str(hosts.inventory.parent / host["key"])
    change(inventory["hosts"][1])
    bad = tmp_path / "hosts.yaml"
    bad.write_text(yaml.safe_dump(inventory))
    return subprocess.run([sys.executable, "-m", "harness.cli", "--cluster", "chaos-sshbad", "--provider", "ssh",
                           "--inventory", str(bad), "cluster", "up"], capture_output=True, text=True, timeout=120,
                          env={"CHAOS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})


def test_a_refused_key_is_named_with_the_host_before_anything_starts(hosts, tmp_path):
    wrong_key = tmp_path / "id_other"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(wrong_key))
    wrong_key.chmod(0o600)
    done = up_with(hosts, tmp_path, lambda host: host.update(key=str(wrong_key)))
    assert done.returncode == 3, done.stderr
    assert "cannot log in to node2 (deploy@172.31.240.12:22): the host refused the login" in " ".join(done.stderr.split())


def test_an_unreachable_host_is_named_before_anything_starts(hosts, tmp_path):
    done = up_with(hosts, tmp_path, lambda host: host.update(address="172.31.240.250"))  # nothing there
    assert done.returncode == 3, done.stderr
    message = " ".join(done.stderr.split())
    assert "cannot log in to node2 (deploy@172.31.240.250:22)" in message, message
    assert "is the host up" in message, message


def test_down_leaves_every_host_as_it_was(ssh_cluster, hosts, tmp_path):
    """After every fault, seed scenario and a SIGKILLed run: each host's fingerprint as before up, and the same
    seen by the test's own login (daemon.json absent on node1 and node2, the user's own on node3, the engine's
    effective settings with it). First with node3 not answering: `down` exits 1 naming it and keeps the state;
    once node3 is back, `down` again completes."""
    away = hosts.containers["node3"].get_wrapped_container()
    away.pause()
    try:
        first = harness_cli(ssh_cluster.config.workdir, "--cluster", CLUSTER, "down")
    finally:
        away.unpause()
    assert first.returncode == 1, first.stderr
    assert "not undone: registry set-up on node3" in " ".join(first.stderr.split())
    assert (ssh_cluster.config.state_dir / "cluster.json").exists()

    teardown = Cluster(ssh_cluster.config).down()  # the state as the first `down` left it
    assert teardown.not_undone == [] and teardown.differences == [], teardown
    assert not ssh_cluster.config.state_dir.exists()
    for name in NAMES:
        assert on_host(hosts, name, HOST_VIEW) == hosts.views[name], name
    assert "myreg.example:5000" in on_host(hosts, "node3", "docker info --format '{{json .RegistryConfig}}'")
    assert audit(ssh_cluster.config, tmp_path) == []  # the hosts compared again once the cluster is down


def inventory_with(hosts, tmp_path, **settings) -> Path:
    """The hosts' inventory with ``settings`` at its top (key paths made absolute), in ``tmp_path``."""
    inventory = yaml.safe_load(hosts.inventory.read_text())
    for host in inventory["hosts"]:
        host["key"] = str(hosts.inventory.parent / host["key"])
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({**settings, **inventory}))
    return path


def swarm_states(hosts) -> dict[str, str]:
    return {name: on_host(hosts, name, "docker info --format '{{.Swarm.LocalNodeState}}'").strip() for name in NAMES}


def leave_swarm(hosts) -> None:
    """Every host out of the Swarm a test made, and the bridge joining it made gone, as the hosts were before."""
    for name in reversed(NAMES):
        on_host(hosts, name, "docker swarm leave --force >/dev/null 2>&1; docker network rm docker_gwbridge "
                             ">/dev/null 2>&1; true")


@pytest.fixture
def own_swarm(hosts):
    """The hosts in a Swarm of their own (node1 its manager), made without the harness; left again afterwards."""
    on_host(hosts, "node1", f"docker swarm init --advertise-addr {hosts.addresses['node1']}")
    token = on_host(hosts, "node1", "docker swarm join-token -q worker").strip()
    for name in NAMES[1:]:
        on_host(hosts, name, f"docker swarm join --token {token} {hosts.addresses['node1']}:2377")
    yield
    leave_swarm(hosts)


def test_swarm_existing_uses_the_hosts_swarm_and_down_leaves_it_as_it_was(hosts, own_swarm, tmp_path):
    config = ClusterConfig(name="chaos-sshown", provider="ssh", workdir=tmp_path / "home",
                           inventory=inventory_with(hosts, tmp_path, swarm="existing"))
    cluster = Cluster(config)
    try:
        cluster.up()
        labels = {n.hostname: n.labels for n in cluster.engine.nodes()}
        assert labels["node1"].get("chaos.lb") == "true" and labels["node3"].get("chaos.stateful") == "true"
    finally:
        teardown = cluster.down()
    assert teardown.complete, teardown  # the hosts as they were, their Swarm included
    assert swarm_states(hosts) == {name: "active" for name in NAMES}  # their Swarm stays
    for line in on_host(hosts, "node1", "docker node ls -q | xargs docker node inspect "
                                        "--format '{{.Description.Hostname}} {{.Spec.Labels}}'").splitlines():
        assert "chaos." not in line, line  # and carries none of the harness's labels


@pytest.mark.parametrize(("on_failure", "swarm_after"), [("rollback", "inactive"), ("leave", "active")])
def test_a_failed_first_up_rolls_its_swarm_back_or_leaves_it_as_the_inventory_says(
        hosts, tmp_path, monkeypatch, on_failure, swarm_after):
    def refused(*_args, **_kwargs):
        raise ClusterError("the label was refused (a failure injected by the test)")

    monkeypatch.setattr(SwarmEngine, "label_node", refused)  # fails right after the Swarm formed
    config = ClusterConfig(name="chaos-sshfail", provider="ssh", workdir=tmp_path / "home",
                           inventory=inventory_with(hosts, tmp_path, on_failure=on_failure))
    try:
        with pytest.raises(ClusterError, match="label was refused"):
            Cluster(config).up()
        assert swarm_states(hosts) == {name: swarm_after for name in NAMES}
        for name in NAMES:  # the rest is undone either way
            assert "chaos-harness" not in on_host(hosts, name, "cat /etc/hosts")
        assert [on_host(hosts, name, "cat /etc/docker/daemon.json 2>/dev/null || echo absent").strip()
                for name in NAMES] == ["absent", "absent", USER_DAEMON_JSON]
        assert not config.state_dir.exists()
    finally:
        leave_swarm(hosts)


def harness_cli(home: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True, timeout=600,
                          env={"CHAOS_HOME": str(home), "PATH": "/usr/bin:/bin"})


def test_a_network_named_like_the_harnesss_is_refused_never_reused(hosts, tmp_path):
    client = docker.from_env()
    theirs = client.networks.create("chaos-sshnet-net", driver="bridge", labels={"owner": "someone else"})
    try:
        done = harness_cli(tmp_path, "--cluster", "chaos-sshnet", "--provider", "ssh", "--inventory",
                           str(inventory_with(hosts, tmp_path)), "cluster", "up")
        message = " ".join(done.stderr.split())
        assert done.returncode == 3, done.stderr
        assert "a network named chaos-sshnet-net exists on this machine and is not the harness's" in message, message
        theirs.reload()
        assert theirs.attrs["Labels"] == {"owner": "someone else"} and theirs.attrs["Containers"] == {}
        assert not (tmp_path / "clusters" / "chaos-sshnet").exists()
        assert all(on_host(hosts, name, HOST_VIEW) == hosts.views[name] for name in NAMES)  # no host touched
    finally:
        theirs.remove()
