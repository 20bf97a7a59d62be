"""What each node of a Kubernetes cluster runs, and the files it runs them from.

One node is the control plane: etcd, the API server, the controller manager and the scheduler, as plain
programs. Every node runs containerd, the kubelet and kube-proxy; the control plane takes workloads too (not
tainted), as a Swarm manager does, so that a stack lands on the same nodes under either engine. Pods get addresses from one /24 per node (``POD_SUBNETS``) on a bridge, with a static
route to every other node's /24; kube-proxy programs Services with iptables. Every connection between
components is TLS with the cluster's own certificates (``pki``).

The node image's supervisor starts a program once its service file (``/etc/chaos-harness/services/NAME``,
one shell command line) exists, and starts it again when it dies.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from harness.engine.kubernetes.pki import Authority, KeyPair, new_authority, service_account_key
from harness.errors import ClusterError
from harness.files import read_bytes
from harness.safe_yaml import clip

__all__ = ["API_PORT", "PAUSE_ARCHIVE", "SERVICES", "ClusterPlan", "NodeFiles", "Secrets", "admin_kubeconfig",
           "node_files", "pod_routes", "pod_subnet"]

API_PORT = 6443
SECRETS_LIMIT = 64 * 1024  # bytes: the kept authority and service account key are about 4 KiB
POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")
SERVICE_NETWORK = "10.96.0.0/16"
CLUSTER_DNS = "10.96.0.10"
API_SERVICE_ADDRESS = "10.96.0.1"
CLUSTER_DOMAIN = "cluster.local"
PKI = "/etc/kubernetes/pki"
SERVICES = "/etc/chaos-harness/services"
CNI_CONFIG = "/etc/cni/net.d/10-chaos-bridge.conflist"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"  # set by the harness: a kubelet may not

PAUSE_ARCHIVE = "/etc/chaos-harness/pause.tar"  # the pause image, kept on the node: its image store is a tmpfs
ROUTES = "/etc/chaos-harness/routes"  # "SUBNET ADDRESS" of every other node; the node image applies them at boot
POD_NETWORK_FILE = "/etc/chaos-harness/pod-network"  # forwarded to and from by the node (its chain CHAOS-PODS)
# Before the kubelet starts (again): containerd answers, and holds the pause image (gone after a node restart).
_KUBELET_FIRST = (f"until ctr version >/dev/null 2>&1; do sleep 0.2; done\n"
                  f"ctr -n k8s.io images import {PAUSE_ARCHIVE} >/dev/null || exit 1\n").encode()

NodeFiles = dict[str, tuple[bytes, int]]  # path on the node -> (content, mode)


@dataclass(frozen=True)
class ClusterPlan:
    """Who is who: node name -> address on the cluster's network, and which node is the control plane."""

    name: str
    node_ips: dict[str, str]
    control_plane: str
    registries: tuple[str, ...]  # host:port of every registry the nodes pull from, over plain HTTP
    sandbox_image: str  # the pause image as the nodes' containerd names it once imported

    @property
    def api_address(self) -> str:
        return self.node_ips[self.control_plane]

    def index(self, node: str) -> int:
        return list(self.node_ips).index(node) + 1


def pod_subnet(plan: ClusterPlan, node: str) -> ipaddress.IPv4Network:
    """The /24 the pods of ``node`` get their addresses from."""
    return list(POD_NETWORK.subnets(new_prefix=24))[plan.index(node)]


def pod_routes(plan: ClusterPlan, node: str) -> list[str]:
    """The routes ``node`` has to the other nodes' pods, each as ``ip route`` writes one: "SUBNET via ADDRESS"."""
    return [f"{subnet} via {address}" for subnet, address in _other_pod_subnets(plan, node)]


def _other_pod_subnets(plan: ClusterPlan, node: str) -> list[tuple[ipaddress.IPv4Network, str]]:
    """Each other node's pod subnet and the address that reaches it."""
    return [(pod_subnet(plan, other), address) for other, address in plan.node_ips.items() if other != node]


@dataclass(frozen=True)
class Secrets:
    """The cluster's authority and service account key: made once at the first ``up``, kept in its state."""

    authority: Authority
    service_accounts: KeyPair

    @classmethod
    def new(cls, cluster: str) -> Secrets:
        return cls(new_authority(cluster), service_account_key())

    def to_json(self) -> str:
        pairs = {"ca": self.authority.pair, "sa": self.service_accounts}
        return json.dumps({name: {"cert": p.cert.decode(), "key": p.key.decode()} for name, p in pairs.items()})

    @classmethod
    def from_json(cls, text: str) -> Secrets:
        raw = json.loads(text)
        pair = {name: KeyPair(v["cert"].encode(), v["key"].encode()) for name, v in raw.items()}
        return cls(Authority(pair["ca"]), pair["sa"])

    @classmethod
    def read(cls, path: Path) -> Secrets:
        """The secrets kept at ``path``; ClusterError naming it when it is not what ``to_json`` wrote (each key and
        certificate must load, and the authority's key must be its certificate's)."""
        data = read_bytes(path, "cluster's certificate authority", ClusterError, SECRETS_LIMIT)
        try:
            secrets = cls.from_json(data.decode("utf-8"))
            certificate = x509.load_pem_x509_certificate(secrets.authority.pair.cert)
            key = serialization.load_pem_private_key(secrets.authority.pair.key, password=None)
            if _public(certificate.public_key()) != _public(key.public_key()):
                raise ValueError("its key is not its certificate's")
            serialization.load_pem_private_key(secrets.service_accounts.key, password=None)
        except (ValueError, KeyError, TypeError, AttributeError, UnsupportedAlgorithm) as error:
            raise ClusterError(f"{path}: not the cluster's certificate authority as the harness keeps it "
                               f"({clip(str(error) or type(error).__name__, 200)}); `chaos-harness down` and `cluster "
                               "up` make the cluster again with a new one") from error
        return secrets


def _public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def admin_kubeconfig(plan: ClusterPlan, secrets: Secrets) -> bytes:
    """A kubeconfig for the harness's admin (group ``system:masters``), reaching the API server at the control
    plane's address on the cluster's network (routed from this machine; nothing is published)."""
    admin = secrets.authority.issue("chaos-harness-admin", groups=("system:masters",), client=True)
    return _kubeconfig(plan.name, secrets.authority.pair.cert, f"https://{plan.api_address}:{API_PORT}",
                       "chaos-harness-admin", admin)


def node_files(plan: ClusterPlan, secrets: Secrets, node: str) -> NodeFiles:
    """Every file ``node`` needs: certificates, kubeconfigs, configurations and service command lines."""
    ca = secrets.authority
    address = plan.node_ips[node]
    api = f"https://{plan.api_address}:{API_PORT}"
    kubelet_client = ca.issue(f"system:node:{node}", groups=("system:nodes",), client=True)
    kubelet_serving = ca.issue(node, dns=(node,), addresses=(address,), server=True)
    proxy_client = ca.issue("system:kube-proxy", client=True)
    files: NodeFiles = {
        f"{PKI}/ca.crt": (ca.pair.cert, 0o644),
        **_pair(f"{PKI}/kubelet", kubelet_serving),
        "/etc/kubernetes/kubelet.conf": (_kubeconfig(plan.name, ca.pair.cert, api, node, kubelet_client), 0o600),
        "/etc/kubernetes/kube-proxy.conf": (_kubeconfig(plan.name, ca.pair.cert, api, "kube-proxy", proxy_client),
                                            0o600),
        "/var/lib/kubelet/config.yaml": (_yaml(_kubelet_config()), 0o644),
        "/var/lib/kube-proxy/config.yaml": (_yaml(_proxy_config(node)), 0o644),
        CNI_CONFIG: (json.dumps(_cni_config(plan, node), indent=2).encode(), 0o644),
        "/etc/containerd/config.toml": (_containerd_config(plan.sandbox_image).encode(), 0o644),
        **{f"/etc/containerd/certs.d/{registry}/hosts.toml": (f'server = "http://{registry}"\n'.encode(), 0o644)
           for registry in plan.registries},
        f"{SERVICES}/containerd": (_service("containerd", ["--config=/etc/containerd/config.toml"]), 0o644),
        POD_NETWORK_FILE: (f"{POD_NETWORK}\n".encode(), 0o644),
        ROUTES: ("".join(f"{subnet} {address}\n" for subnet, address in _other_pod_subnets(plan, node)).encode(),
                 0o644),
        f"{SERVICES}/kubelet": (_KUBELET_FIRST + _service("kubelet", [
            "--config=/var/lib/kubelet/config.yaml", "--kubeconfig=/etc/kubernetes/kubelet.conf",
            f"--node-ip={address}", f"--hostname-override={node}"]), 0o644),
        f"{SERVICES}/kube-proxy": (_service("kube-proxy", ["--config=/var/lib/kube-proxy/config.yaml"]), 0o644),
    }
    if node == plan.control_plane:
        files.update(_control_plane_files(plan, secrets))
    return files


def _control_plane_files(plan: ClusterPlan, secrets: Secrets) -> NodeFiles:
    ca, address = secrets.authority, plan.api_address
    local_api = f"https://127.0.0.1:{API_PORT}"
    etcd = ca.issue("etcd", dns=("localhost", plan.control_plane), addresses=("127.0.0.1", address),
                    server=True, client=True)
    serving = ca.issue("kube-apiserver", server=True, addresses=(address, "127.0.0.1", API_SERVICE_ADDRESS),
                       dns=("localhost", plan.control_plane, "kubernetes", "kubernetes.default",
                            "kubernetes.default.svc", f"kubernetes.default.svc.{CLUSTER_DOMAIN}"))
    identities = {"controller-manager": "system:kube-controller-manager", "scheduler": "system:kube-scheduler"}
    files: NodeFiles = {
        **_pair(f"{PKI}/etcd", etcd),
        **_pair(f"{PKI}/apiserver", serving),
        **_pair(f"{PKI}/apiserver-etcd-client", ca.issue("kube-apiserver-etcd-client", client=True)),
        **_pair(f"{PKI}/apiserver-kubelet-client", ca.issue("kube-apiserver-kubelet-client",
                                                             groups=("system:masters",), client=True)),
        f"{PKI}/sa.pub": (secrets.service_accounts.cert, 0o644),
        f"{PKI}/sa.key": (secrets.service_accounts.key, 0o600),
        **{f"/etc/kubernetes/{name}.conf": (_kubeconfig(plan.name, ca.pair.cert, local_api, name,
                                                        ca.issue(user, client=True)), 0o600)
           for name, user in identities.items()},
    }
    peer = f"https://{address}:2380"
    services = {
        "etcd": ("etcd", [
            f"--name={plan.control_plane}", "--data-dir=/var/lib/etcd",
            f"--listen-client-urls=https://127.0.0.1:2379,https://{address}:2379",
            f"--advertise-client-urls=https://{address}:2379", f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}", f"--initial-cluster={plan.control_plane}={peer}",
            f"--cert-file={PKI}/etcd.crt", f"--key-file={PKI}/etcd.key", f"--trusted-ca-file={PKI}/ca.crt",
            "--client-cert-auth", f"--peer-cert-file={PKI}/etcd.crt", f"--peer-key-file={PKI}/etcd.key",
            f"--peer-trusted-ca-file={PKI}/ca.crt", "--peer-client-cert-auth"]),
        "kube-apiserver": ("kube-apiserver", [
            f"--advertise-address={address}", f"--secure-port={API_PORT}",
            "--etcd-servers=https://127.0.0.1:2379", f"--etcd-cafile={PKI}/ca.crt",
            f"--etcd-certfile={PKI}/apiserver-etcd-client.crt", f"--etcd-keyfile={PKI}/apiserver-etcd-client.key",
            f"--client-ca-file={PKI}/ca.crt", f"--tls-cert-file={PKI}/apiserver.crt",
            f"--tls-private-key-file={PKI}/apiserver.key", f"--kubelet-certificate-authority={PKI}/ca.crt",
            f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt",
            f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
            "--kubelet-preferred-address-types=InternalIP", f"--service-cluster-ip-range={SERVICE_NETWORK}",
            "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={PKI}/sa.pub",
            f"--service-account-signing-key-file={PKI}/sa.key", "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true"]),
        "kube-controller-manager": ("kube-controller-manager", [
            *_component_kubeconfigs("controller-manager"), "--bind-address=127.0.0.1",
            f"--service-account-private-key-file={PKI}/sa.key", f"--root-ca-file={PKI}/ca.crt",
            "--use-service-account-credentials=true", "--allocate-node-cidrs=false",
            f"--service-cluster-ip-range={SERVICE_NETWORK}"]),
        "kube-scheduler": ("kube-scheduler", [*_component_kubeconfigs("scheduler"), "--bind-address=127.0.0.1"]),
    }
    files.update({f"{SERVICES}/{name}": (_service(program, flags), 0o644)
                  for name, (program, flags) in services.items()})
    return files


def _component_kubeconfigs(name: str) -> list[str]:
    path = f"/etc/kubernetes/{name}.conf"
    return [f"--kubeconfig={path}", f"--authentication-kubeconfig={path}", f"--authorization-kubeconfig={path}"]


def _kubelet_config() -> dict:
    """The kubelet's settings for a node that is itself a container on a cgroup v1 host: cgroupfs, cgroup v1
    allowed, no swap check, and no eviction for the host's disk or memory (not the cluster's to judge)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": f"{PKI}/ca.crt"}},
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": f"{PKI}/kubelet.crt", "tlsPrivateKeyFile": f"{PKI}/kubelet.key",
        "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
        "clusterDNS": [CLUSTER_DNS], "clusterDomain": CLUSTER_DOMAIN, "readOnlyPort": 0,
        "evictionHard": {"memory.available": "0%", "nodefs.available": "0%", "imagefs.available": "0%",
                         "nodefs.inodesFree": "0%"},
        "imageGCHighThresholdPercent": 100, "localStorageCapacityIsolation": False,
    }


def _proxy_config(node: str) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": "/etc/kubernetes/kube-proxy.conf"}, "mode": "iptables",
        "clusterCIDR": str(POD_NETWORK), "hostnameOverride": node,
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


def _cni_config(plan: ClusterPlan, node: str) -> dict:
    """A bridge with this node's /24 (host-local addresses), masquerading towards anything outside the pod
    network, and the portmap plugin for hostPorts."""
    subnet = pod_subnet(plan, node)
    return {"cniVersion": "1.0.0", "name": "chaos-pods", "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": str(subnet)}]], "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ]}


def _containerd_config(sandbox_image: str) -> str:
    return f"""version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{sandbox_image}"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "/etc/containerd/certs.d"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
"""


def _service(program: str, flags: list[str]) -> bytes:
    return ("exec " + " ".join([f"/usr/local/bin/{program}", *flags]) + "\n").encode()


def _pair(stem: str, pair: KeyPair) -> NodeFiles:
    return {f"{stem}.crt": (pair.cert, 0o644), f"{stem}.key": (pair.key, 0o600)}


def _kubeconfig(cluster: str, ca: bytes, server: str, user: str, pair: KeyPair) -> bytes:
    def encode(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return _yaml({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": encode(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": encode(pair.cert),
                                          "client-key-data": encode(pair.key)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
    })


def _yaml(data: dict) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()
