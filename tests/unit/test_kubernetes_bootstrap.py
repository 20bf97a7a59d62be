"""A Kubernetes cluster's files: certificates that chain to the cluster's authority and name the right identities,
programs only where they belong, one pod subnet per node."""

import json
import os
import re

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.build import DOCKERFILES
from harness.cluster.fingerprint import KERNEL_TUNABLES
from harness.engine.kubernetes.binaries import _LOCAL_REPLACE, _version_flags
from harness.engine.kubernetes.bootstrap import (
    PKI, SERVICES, ClusterPlan, Secrets, admin_kubeconfig, node_files, pod_routes, pod_subnet)
from harness.engine.kubernetes.api import api_client
from harness.errors import ClusterError

PLAN = ClusterPlan("kt", {"node1": "172.28.0.11", "node2": "172.28.0.12", "node3": "172.28.0.13"}, "node1",
                   ("registry:5000", "registry-secure:5001"), sandbox_image="docker.io/chaos-harness/pause:abc")


@pytest.fixture(scope="module")
def secrets() -> Secrets:
    return Secrets.from_json(Secrets.new("kt").to_json())  # what the state keeps is what is used


def cert(files, stem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(files[f"{PKI}/{stem}.crt"][0])


def test_the_api_servers_certificate_is_signed_by_the_clusters_authority_and_names_every_address(secrets):
    files = node_files(PLAN, secrets, "node1")
    serving = cert(files, "apiserver")
    serving.verify_directly_issued_by(x509.load_pem_x509_certificate(secrets.authority.pair.cert))
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"172.28.0.11", "127.0.0.1", "10.96.0.1"}
    assert "kubernetes.default.svc.cluster.local" in names.get_values_for_type(x509.DNSName)
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_a_kubelet_authenticates_as_its_node_and_the_admin_as_a_master(secrets):
    kubeconfig = yaml.safe_load(node_files(PLAN, secrets, "node2")["/etc/kubernetes/kubelet.conf"][0])
    import base64
    client = x509.load_pem_x509_certificate(base64.b64decode(kubeconfig["users"][0]["user"]["client-certificate-data"]))
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:node2"
    assert client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://172.28.0.11:6443"
    admin = yaml.safe_load(admin_kubeconfig(PLAN, secrets))
    admin_cert = x509.load_pem_x509_certificate(base64.b64decode(admin["users"][0]["user"]["client-certificate-data"]))
    assert admin_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"


def test_the_control_plane_runs_etcd_and_the_api_server_and_a_worker_does_not(secrets):
    programs = {node: sorted(p.rsplit("/", 1)[1] for p in node_files(PLAN, secrets, node) if p.startswith(SERVICES))
                for node in PLAN.node_ips}
    assert programs["node1"] == ["containerd", "etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy",
                                 "kube-scheduler", "kubelet"]
    assert programs["node2"] == programs["node3"] == ["containerd", "kube-proxy", "kubelet"]
    worker = node_files(PLAN, secrets, "node2")
    assert not any(path.endswith(("sa.key", "etcd.key", "apiserver.key")) for path in worker)
    assert "registerWithTaints" not in node_files(PLAN, secrets, "node1")["/var/lib/kubelet/config.yaml"][0].decode()


def test_private_keys_are_readable_by_root_only(secrets):
    modes = {path: mode for path, (_, mode) in node_files(PLAN, secrets, "node1").items()}
    assert all(mode == 0o600 for path, mode in modes.items() if path.endswith((".key", ".conf")))


def test_each_node_gets_its_own_pod_subnet_and_containerd_trusts_every_registry(secrets):
    subnets = {str(pod_subnet(PLAN, node)) for node in PLAN.node_ips}
    assert subnets == {"10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"}
    files = node_files(PLAN, secrets, "node3")
    cni = json.loads(files["/etc/cni/net.d/10-chaos-bridge.conflist"][0])
    assert cni["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
    assert files["/etc/containerd/certs.d/registry-secure:5001/hosts.toml"][0] == b'server = "http://registry-secure:5001"\n'
    assert 'sandbox = "docker.io/chaos-harness/pause:abc"' in files["/etc/containerd/config.toml"][0].decode()
    assert files["/etc/chaos-harness/routes"][0] == b"10.244.1.0/24 172.28.0.11\n10.244.2.0/24 172.28.0.12\n"
    assert pod_routes(PLAN, "node3") == ["10.244.1.0/24 via 172.28.0.11", "10.244.2.0/24 via 172.28.0.12"]
    assert files["/etc/chaos-harness/pod-network"][0] == b"10.244.0.0/16\n"


def test_the_node_image_shows_the_kubelet_every_kernel_tunable_the_fingerprints_watch():
    entrypoint = (DOCKERFILES / "kube-node" / "kube-node-entrypoint.sh").read_text()
    shown = re.findall(r"\b((?:vm|kernel)/[a-z_/]+)=\d+", entrypoint)
    assert sorted(shown) == sorted(KERNEL_TUNABLES)


def test_a_modules_local_replaces_are_found_and_binaries_name_their_version():
    go_mod = "replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/kubelet => ./staging/src/k8s.io/kubelet\n" \
             "\tgithub.com/x/y => github.com/x/y v1.0.0\n)\nreplace go.etcd.io/etcd/api/v3 => ../api\n"
    assert _LOCAL_REPLACE.findall(go_mod) == ["k8s.io/api", "k8s.io/kubelet", "go.etcd.io/etcd/api/v3"]
    flags = _version_flags("v1.37.2")
    assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=37" in flags


KEPT = Secrets.new("kt").to_json()  # one authority for the fuzz tests below (making one takes a while)
FUZZ = settings(max_examples=int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200")) // 2, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_kept_authority_is_read_back_and_signs(tmp_path):
    path = tmp_path / "kubernetes-secrets.json"
    path.write_text(KEPT)
    assert Secrets.read(path).authority.pair.cert == Secrets.from_json(KEPT).authority.pair.cert


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.builds(
    lambda start, end, junk: (KEPT[:start] + junk + KEPT[end:]).encode(),
    st.integers(0, len(KEPT)), st.integers(0, len(KEPT)), st.text(max_size=40))))
def test_a_damaged_authority_file_is_a_cluster_error_naming_it(tmp_path, data):
    """Whatever the state directory's kubernetes-secrets.json holds: the secrets, or a ClusterError naming it."""
    path = tmp_path / "kubernetes-secrets.json"
    path.write_bytes(data)
    try:
        Secrets.read(path)
    except ClusterError as error:
        assert str(path) in str(error) and len(str(error)) < 1000


def test_an_authority_whose_key_is_not_its_certificates_is_refused(tmp_path):
    other = json.loads(Secrets.new("other").to_json())
    mixed = {**json.loads(KEPT), "ca": {"cert": json.loads(KEPT)["ca"]["cert"], "key": other["sa"]["key"]}}
    path = tmp_path / "kubernetes-secrets.json"
    path.write_text(json.dumps(mixed))
    with pytest.raises(ClusterError, match="not the cluster's certificate authority as the harness keeps it"):
        Secrets.read(path)


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.builds(
    lambda start, end, junk: (KUBECONFIG[:start] + junk + KUBECONFIG[end:]),
    st.integers(0, 3000), st.integers(0, 3000), st.binary(max_size=40))))
def test_a_damaged_kubeconfig_is_a_cluster_error_naming_it(tmp_path, data):
    path = tmp_path / "kubeconfig"
    path.write_bytes(data)
    try:
        api_client(path)
    except ClusterError as error:
        assert str(path) in str(error) and len(str(error)) < 1000


KUBECONFIG = admin_kubeconfig(PLAN, Secrets.from_json(KEPT))


def test_a_node_is_shown_in_kubernetes_words_and_judged_in_the_harnesss():
    from kubernetes import client as k8s

    from harness.engine.kubernetes.engine import KubernetesEngine
    from harness.engine.kubernetes.translate import CONTROL_PLANE

    engine = KubernetesEngine.__new__(KubernetesEngine)
    engine._kept = None
    node = k8s.V1Node(metadata=k8s.V1ObjectMeta(name="node1", labels={CONTROL_PLANE: ""}),
                      spec=k8s.V1NodeSpec(unschedulable=True),
                      status=k8s.V1NodeStatus(conditions=[k8s.V1NodeCondition(type="Ready", status="False")]))
    info = engine._node_info(node)
    assert (info.state, info.availability, info.role) == ("down", "drain", "manager")
    assert info.shown == "NotReady, SchedulingDisabled, control-plane"
