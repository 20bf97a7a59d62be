"""Network faults made with firewall rules inside the target node.

Each fault's rules are worked out again for ``heal`` and ``verify``; there
they leave out what cannot be resolved (a peer the cluster does not have, a
registry name no node knows), since no rule for it can have been added. A
fault recorded in the ledger but never injected therefore heals cleanly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from harness.cluster.config import REGISTRY_PORT, SECURE_PORT
from harness.cluster.registry import REGISTRY_ALIAS, SECURE_ALIAS
from harness.errors import ClusterError
from harness.faults.base import BaseFault, FaultContext, FaultParams, Problem
from harness.faults.nodeshell import Rule, add_rules, delete_rules, has_rule, resolve
from harness.scenario.model import node_name_error

if TYPE_CHECKING:
    from harness.scenario.model import FaultSpec, Scenario

VXLAN_PORT = "4789"
PULLED_FROM = {"open": REGISTRY_ALIAS, "authenticated": SECURE_ALIAS}  # stack.registry -> the host nodes pull from
HOST_NAME = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$"


class RuleFault(BaseFault):
    """A fault that is a set of firewall rules on the target node."""

    def rules(self, ctx: FaultContext, strict: bool = False) -> list[Rule]:
        """The fault's rules; ``strict`` (inject): ClusterError for what cannot be resolved, else left out."""
        raise NotImplementedError

    def inject(self, ctx: FaultContext) -> None:
        add_rules(ctx, self.target, self.rules(ctx, strict=True))

    def heal(self, ctx: FaultContext) -> None:
        delete_rules(ctx, self.target, self.rules(ctx))

    def verify(self, ctx: FaultContext) -> bool:
        rules = self.rules(ctx)
        return bool(rules) and all(has_rule(ctx, self.target, rule) for rule in rules)


class RegistryFirewallParams(FaultParams):
    action: Literal["DROP", "REJECT"] = "DROP"
    registry: str = Field(REGISTRY_ALIAS, pattern=HOST_NAME,
                          description=f"registry host name as the nodes resolve it: {REGISTRY_ALIAS} (stack.registry: "
                                      f"open) or {SECURE_ALIAS} (authenticated)")


class RegistryFirewall(RuleFault):
    """The node cannot reach the private registry: pulls of images it lacks fail."""

    name = "registry-firewall"
    needs = frozenset({"shell", "registry"})
    description = "Firewall rule on the node toward the registry: its image pulls fail or hang."
    Params = RegistryFirewallParams
    params: RegistryFirewallParams

    def rules(self, ctx: FaultContext, strict: bool = False) -> list[Rule]:
        registry = self.params.registry
        if not strict and not ctx.cluster.exec(self.target, ["getent", "hosts", registry]).ok:
            return []  # a name the node cannot resolve has no rule to delete
        address = resolve(ctx, self.target, registry)
        port = SECURE_PORT if registry == SECURE_ALIAS else REGISTRY_PORT
        return [Rule("OUTPUT", ("-p", "tcp", "-d", address, "--dport", str(port)), self.params.action)]

    @classmethod
    def check_scenario(cls, params: RegistryFirewallParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """The registry blocked must be the one the stack pulls from."""
        pulled = PULLED_FROM[scenario.stack.registry]
        if params.registry not in PULLED_FROM.values() or params.registry == pulled:
            return []
        return [Problem(("params", "registry"), params.registry,
                        f"the nodes pull from {pulled} (stack.registry: {scenario.stack.registry}), so blocking "
                        f"{params.registry} changes nothing; set params.registry: {pulled}")]

    @classmethod
    def check_cluster(cls, params: RegistryFirewallParams, ctx: FaultContext) -> list[Problem]:
        """The nodes must resolve the registry's name (asked of one node: they share the cluster network)."""
        node = next(iter(ctx.cluster.node_addresses()))
        if ctx.cluster.exec(node, ["getent", "hosts", params.registry]).ok:
            return []
        return [Problem(("params", "registry"), params.registry,
                        f"{node} cannot resolve this name; the nodes pull from {REGISTRY_ALIAS} (stack.registry: "
                        f"open) or {SECURE_ALIAS} (authenticated)")]


class PeerParams(FaultParams):
    peers: list[str] = Field(default_factory=list, description="other nodes by name (node1, node2, ... or an "
                                                               "inventory's hosts); empty = every other node")

    @field_validator("peers")
    @classmethod
    def _each_once(cls, peers: list[str]) -> list[str]:
        if twice := sorted({peer for peer in peers if peers.count(peer) > 1}):
            raise ValueError(f"{', '.join(twice)} named more than once; name each peer once")
        return peers


class _PeerFault(RuleFault):
    """Drops packets matching ``match`` between the target and each peer, both ways."""

    params: PeerParams
    match: tuple[str, ...] = ()

    def rules(self, ctx: FaultContext, strict: bool = False) -> list[Rule]:
        addresses = ctx.cluster.node_addresses()
        unknown = [peer for peer in self.params.peers if peer not in addresses]
        if strict and unknown:
            raise ClusterError(f"{self.name} on {self.target}: the cluster has no node {', '.join(unknown)}; "
                               f"its nodes: {', '.join(addresses)}")
        peers = [p for p in (self.params.peers or addresses) if p in addresses and p != self.target]
        if strict and not peers:
            raise ClusterError(f"{self.name} on {self.target}: no other node to cut it off from "
                               f"(peers: {self.params.peers or 'every other node'})")
        return [rule for peer in peers for rule in (
            Rule("INPUT", ("-s", addresses[peer], *self.match)),
            Rule("OUTPUT", ("-d", addresses[peer], *self.match)),
        )]

    @classmethod
    def check_scenario(cls, params: PeerParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """Peers must be node names, and not the node the fault targets."""
        problems = [Problem(("params", "peers", index), peer, error)
                    for index, peer in enumerate(params.peers) if (error := node_name_error(peer))]
        if spec.target.node is not None and spec.target.node in params.peers:
            problems.append(Problem(("params", "peers"), params.peers,
                                    f"the target node {spec.target.node} cannot be cut off from itself; "
                                    "name other nodes, or none for every other node"))
        return problems

    @classmethod
    def check_cluster(cls, params: PeerParams, ctx: FaultContext) -> list[Problem]:
        """Every peer must be a node of the cluster."""
        nodes = list(ctx.cluster.node_addresses())
        return [Problem(("params", "peers", index), peer,
                        f"the cluster has no node {peer}; its nodes: {', '.join(nodes)}")
                for index, peer in enumerate(params.peers) if peer not in nodes]


class OverlayDrop(_PeerFault):
    """Overlay (VXLAN) traffic between the node and its peers is dropped; the control plane still works."""

    name = "overlay-drop"
    description = "Drop overlay (VXLAN, UDP 4789) traffic between the node and its peers: services there are unroutable."
    Params = PeerParams
    match = ("-p", "udp", "--dport", VXLAN_PORT)

    @classmethod
    def check_cluster(cls, params: PeerParams, ctx: FaultContext) -> list[Problem]:
        """The cluster's engine must carry its traffic between nodes in an overlay (Swarm's VXLAN on 4789)."""
        problems = super().check_cluster(params, ctx)
        if ctx.cluster.engine.overlay_port != int(VXLAN_PORT):
            problems.append(Problem(("kind",), cls.name, f"this {ctx.cluster.state.engine} cluster has no VXLAN overlay "
                                                         "between its nodes (its pods' traffic is routed): partition or "
                                                         "packet-loss hit that traffic"))
        return problems


class Partition(_PeerFault):
    """Every packet between the node and its peers is dropped: a network partition."""

    name = "partition"
    description = "Drop all traffic between the node and its peers: Swarm marks it Down, overlay routes break."
    Params = PeerParams


class PacketLossParams(FaultParams):
    probability: float = Field(0.2, ge=0.0001, le=1, description="share of packets dropped (the rule keeps "
                                                                 "four decimals: at least 0.0001)")


class PacketLoss(RuleFault):
    """Random packet loss on everything the node receives from the cluster network, but the harness's own SSH
    session to a host (its control port): the fault must stay healable, and the load never goes that way."""

    name = "packet-loss"
    description = "Drop a random share of the packets the node receives (iptables statistic; no netem here)."
    Params = PacketLossParams
    params: PacketLossParams

    def rules(self, ctx: FaultContext, strict: bool = False) -> list[Rule]:
        lose = ("-m", "statistic", "--mode", "random", "--probability", f"{self.params.probability:.4f}")
        spared = ctx.cluster.control_port(self.target)
        if spared is None:
            return [Rule("INPUT", ("-i", "eth0", *lose))]
        return [Rule("INPUT", ("-i", "eth0", "-p", "tcp", "!", "--dport", str(spared), *lose)),
                Rule("INPUT", ("-i", "eth0", "!", "-p", "tcp", *lose))]
