"""Host fingerprints: what the host script's output becomes, and how two fingerprints differ."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from harness.cluster.fingerprint import (
    LOCAL, Fingerprint, FingerprintRecord, engine_settings, kernel_settings, of_cluster_node, of_this_machine,
    parse_host_output,
    pushed_to,
)
from harness.dockerhost import CLUSTER_LABEL
from harness.errors import ClusterError

INFO = {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": [],
                           "IndexConfigs": {"docker.io": {"Secure": True, "Mirrors": []},
                                            "myreg.example:5000": {"Secure": False, "Mirrors": []}}},
        "LiveRestoreEnabled": False, "Labels": [], "Swarm": {"LocalNodeState": "inactive", "NodeID": ""}}


def host_output(info: dict = INFO, firewall: str = "filter -P INPUT ACCEPT", hosts: str = "127.0.0.1 localhost",
                daemon_json: str = "(absent)") -> str:
    return "\n".join(["@@ hosts", hosts, "@@ daemon.json", daemon_json, "@@ engine", json.dumps(info),
                      "@@ networks", "none null local", "bridge bridge local", "@@ firewall", firewall,
                      "@@ traces", ""])


def test_the_host_output_becomes_sections_with_the_engines_effective_settings():
    sections = parse_host_output(host_output())
    assert sections["networks"] == ["bridge bridge local", "none null local"]  # a set: sorted
    assert sections["daemon.json"] == ["(absent)"] and sections["traces"] == []
    assert "insecure registries: myreg.example:5000" in sections["engine"]
    assert "swarm: inactive" in sections["engine"]


def test_a_host_as_it_was_has_no_difference():
    assert Fingerprint("h1", parse_host_output(host_output())).differences(
        Fingerprint("h1", parse_host_output(host_output()))) == []


def test_an_engine_that_still_trusts_the_registries_differs_although_daemon_json_is_back():
    trusting = json.loads(json.dumps(INFO))
    trusting["RegistryConfig"]["IndexConfigs"]["registry:5000"] = {"Secure": False, "Mirrors": []}
    before = Fingerprint("h2", parse_host_output(host_output()))
    after = Fingerprint("h2", parse_host_output(host_output(trusting)))
    assert before.differences(after) == [
        "h2: engine: now has insecure registries: myreg.example:5000 registry:5000",
        "h2: engine: no longer has insecure registries: myreg.example:5000"]


def test_lines_gained_and_lost_are_named_and_order_matters_only_where_it_should():
    before = Fingerprint("h1", parse_host_output(host_output(hosts="127.0.0.1 localhost\n10.0.0.9 db")))
    reordered = Fingerprint("h1", parse_host_output(host_output(hosts="10.0.0.9 db\n127.0.0.1 localhost")))
    assert before.differences(reordered) == ["h1: hosts: the same lines in another order"]
    ruled = Fingerprint("h1", parse_host_output(host_output(
        firewall="filter -P INPUT ACCEPT\nfilter -A INPUT -m comment --comment chaos-harness -j DROP")))
    assert before.differences(ruled) == [
        "h1: firewall: now has filter -A INPUT -m comment --comment chaos-harness -j DROP",
        "h1: hosts: no longer has 10.0.0.9 db"]


def test_the_embedded_dns_rules_a_container_host_gets_at_each_start_are_left_out():
    rule = "nat -A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:41553"
    assert parse_host_output(host_output(firewall=rule))["firewall"] == []


def test_unreadable_engine_info_is_a_difference_not_a_crash():
    assert engine_settings("not json")[0].startswith("unreadable docker info")


def test_this_machine_counts_what_the_cluster_labels_or_names_as_its_own_and_nothing_else():
    def thing(name: str, labels: dict | None = None, **extra) -> SimpleNamespace:
        return SimpleNamespace(name=name, labels=labels or {}, attrs={"Labels": labels}, status="running", **extra)

    client = SimpleNamespace(
        containers=SimpleNamespace(list=lambda all: [thing("c1-registry", {CLUSTER_LABEL: "c1"}),
                                                     thing("c1-it-registry", {CLUSTER_LABEL: "c1-it"}),
                                                     thing("c1-toxiproxy"), thing("c1-bystander"), thing("postgres")]),
        networks=SimpleNamespace(list=lambda: [thing("c1-net"), thing("bridge")]),
        volumes=SimpleNamespace(list=lambda: [thing("c1-registry-data", {CLUSTER_LABEL: "c1"})]),
        images=SimpleNamespace(list=lambda: [SimpleNamespace(tags=["127.0.0.1:5000/chaos/demo/web:v1", "demo/web:v1"])]))
    found = of_this_machine(client, "c1", {"c1-net", "c1-registry", "c1-toxiproxy", "c1-registry-data"})
    assert found.host == LOCAL
    assert found.sections == {"containers": ["c1-registry running", "c1-toxiproxy running"], "networks": ["c1-net"],
                              "volumes": ["c1-registry-data"], "images": ["127.0.0.1:5000/chaos/demo/web:v1"],
                              "kernel": kernel_settings()}


def test_a_record_round_trips_and_a_damaged_one_is_named(tmp_path):
    path = tmp_path / "fingerprints" / "c1.json"
    record = FingerprintRecord("c1", "hosts.yaml", [Fingerprint("h1", {"hosts": ["127.0.0.1 localhost"]})])
    record.save(path)
    assert FingerprintRecord.load(path) == record and record.of("h1").sections["hosts"] == ["127.0.0.1 localhost"]
    assert path.stat().st_mode & 0o777 == 0o600  # the hosts' files and firewall rules: this user's only
    assert FingerprintRecord.load(tmp_path / "none.json") is None
    path.write_text("{")
    with pytest.raises(ClusterError, match="c1.json is damaged"):
        FingerprintRecord.load(path)


def test_what_down_keeps_on_purpose_is_no_difference_but_what_was_there_before_still_counts():
    before = Fingerprint("h3", {"volumes": ["pgdata"]})
    after = Fingerprint("h3", {"volumes": ["chaos_db-data", "pgdata"]})
    kept = lambda section, line: section == "volumes" and line.startswith("chaos_")  # noqa: E731
    assert before.differences(after) == ["h3: volumes: now has chaos_db-data"]
    assert before.differences(after, kept) == []
    assert before.differences(Fingerprint("h3", {"volumes": ["chaos_db-data"]}), kept) == [
        "h3: volumes: no longer has pgdata"]


def test_another_clusters_push_tags_are_no_difference_of_this_one():
    """Another cluster untagging its push tag while this one was up changes nothing of this cluster's; its own
    push tag left behind is still a difference."""
    before = Fingerprint(LOCAL, {"images": ["127.0.0.1:45489/chaos/web:v1"], "containers": []})
    after = Fingerprint(LOCAL, {"images": ["127.0.0.1:15000/chaos/web:v2"], "containers": []})
    assert before.differences(after)  # as they were compared before: any cluster's tags
    assert pushed_to(before, "127.0.0.1:15000").differences(pushed_to(after, "127.0.0.1:15000")) == [
        "this machine: images: now has 127.0.0.1:15000/chaos/web:v2"]
    assert pushed_to(before, "127.0.0.1:45489").differences(pushed_to(after, "127.0.0.1:45489")) == [
        "this machine: images: no longer has 127.0.0.1:45489/chaos/web:v1"]
    assert pushed_to(before, None).differences(pushed_to(after, None)) == []  # a cluster whose state is gone
    host = Fingerprint("node1", {"images": ["x"]})
    assert pushed_to(host, "127.0.0.1:15000") is host


def test_kubernetes_rules_the_bridge_and_the_pod_routes_left_on_a_host_are_differences():
    output = host_output() + "\n@@ links\nlo\neth0\n@@ routes\ndefault via 10.0.0.1 dev eth0\n"
    left = host_output(firewall="filter -P INPUT ACCEPT\nnat -N KUBE-SERVICES\n"
                                "nat -A PREROUTING -m comment --comment kubernetes -j KUBE-SERVICES") + \
        "\n@@ links\nlo\neth0\ncni0\nvethab12cd\n@@ routes\ndefault via 10.0.0.1 dev eth0\n10.244.2.0/24 via 10.0.0.12\n"
    before, after = Fingerprint("h1", parse_host_output(output)), Fingerprint("h1", parse_host_output(left))
    assert before.differences(after) == [
        "h1: firewall-kubernetes: now has nat -A PREROUTING -m comment --comment kubernetes -j KUBE-SERVICES",
        "h1: firewall-kubernetes: now has nat -N KUBE-SERVICES",
        "h1: links: now has cni0",  # a pod's veth goes with its pod: not listed
        "h1: routes: now has 10.244.2.0/24 via 10.0.0.12"]


def test_a_node_of_a_cluster_the_harness_did_not_make_is_compared_without_what_that_cluster_changes():
    node = Fingerprint("n1", parse_host_output(host_output() + "\n@@ links\nlo\n@@ routes\n"))
    assert {"firewall-kubernetes", "links", "routes"} <= set(node.sections)
    kept = of_cluster_node(node)
    assert not {"firewall-kubernetes", "links", "routes"} & set(kept.sections)
    busier = parse_host_output(host_output(firewall="filter -P INPUT ACCEPT\nnat -N CNI-HOSTPORT-DNAT") +
                               "\n@@ links\nlo\ncali12\n@@ routes\n10.244.9.0/24 dev cali12\n")
    assert kept.differences(Fingerprint("n1", busier)) == []  # sections taken before they were added: not compared


def test_the_kernel_settings_a_kubelet_would_change_are_part_of_this_machines_fingerprint(tmp_path):
    for tunable, value in (("kernel/panic", "1"), ("vm/overcommit_memory", "0")):
        (tmp_path / tunable).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / tunable).write_text(f"{value}\n")
    before = kernel_settings(tmp_path)
    assert "kernel/panic 1" in before and "vm/overcommit_memory 0" in before and "kernel/panic_on_oops (absent)" in before
    (tmp_path / "kernel/panic").write_text("10\n")  # what a kubelet shown the real /proc/sys sets
    assert Fingerprint(LOCAL, {"kernel": before}).differences(Fingerprint(LOCAL, {"kernel": kernel_settings(tmp_path)})) \
        == ["this machine: kernel: now has kernel/panic 10", "this machine: kernel: no longer has kernel/panic 1"]
