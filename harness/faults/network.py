"""Network faults made with firewall rules inside the target node."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams
from harness.faults.nodeshell import Rule, add_rules, delete_rules, has_rule, resolve

VXLAN_PORT = "4789"


class _RuleFault(BaseFault):
    """A fault that is a set of firewall rules on the target node."""

    def rules(self, ctx: FaultContext) -> list[Rule]:
        raise NotImplementedError

    def inject(self, ctx: FaultContext) -> None:
        add_rules(ctx, self.target, self.rules(ctx))

    def heal(self, ctx: FaultContext) -> None:
        delete_rules(ctx, self.target, self.rules(ctx))

    def verify(self, ctx: FaultContext) -> bool:
        return all(has_rule(ctx, self.target, rule) for rule in self.rules(ctx))


class RegistryFirewallParams(FaultParams):
    action: Literal["DROP", "REJECT"] = "DROP"
    registry: str = Field("registry", description="registry host name as the nodes resolve it")


class RegistryFirewall(_RuleFault):
    """The node cannot reach the private registry: pulls of images it lacks fail."""

    name = "registry-firewall"
    description = "Firewall rule on the node toward the registry: its image pulls fail or hang."
    Params = RegistryFirewallParams
    params: RegistryFirewallParams

    def rules(self, ctx: FaultContext) -> list[Rule]:
        address = resolve(ctx, self.target, self.params.registry)
        return [Rule("OUTPUT", ("-p", "tcp", "-d", address, "--dport", "5000"), self.params.action)]


class PeerParams(FaultParams):
    peers: list[str] = Field(default_factory=list, description="other nodes; empty = every other node")


class _PeerFault(_RuleFault):
    """Drops packets matching ``match`` between the target and each peer, both ways."""

    params: PeerParams
    match: tuple[str, ...] = ()

    def rules(self, ctx: FaultContext) -> list[Rule]:
        addresses = ctx.cluster.node_addresses()
        peers = self.params.peers or [n for n in addresses if n != self.target]
        return [rule for peer in peers for rule in (
            Rule("INPUT", ("-s", addresses[peer], *self.match)),
            Rule("OUTPUT", ("-d", addresses[peer], *self.match)),
        )]


class OverlayDrop(_PeerFault):
    """Overlay (VXLAN) traffic between the node and its peers is dropped; the control plane still works."""

    name = "overlay-drop"
    description = "Drop overlay (VXLAN, UDP 4789) traffic between the node and its peers: services there are unroutable."
    Params = PeerParams
    match = ("-p", "udp", "--dport", VXLAN_PORT)


class Partition(_PeerFault):
    """Every packet between the node and its peers is dropped: a network partition."""

    name = "partition"
    description = "Drop all traffic between the node and its peers: Swarm marks it Down, overlay routes break."
    Params = PeerParams


class PacketLossParams(FaultParams):
    probability: float = Field(0.2, gt=0, le=1, description="share of packets dropped")


class PacketLoss(_RuleFault):
    """Random packet loss on everything the node receives from the cluster network."""

    name = "packet-loss"
    description = "Drop a random share of the packets the node receives (iptables statistic; no netem here)."
    Params = PacketLossParams
    params: PacketLossParams

    def rules(self, ctx: FaultContext) -> list[Rule]:
        share = f"{self.params.probability:.4f}"
        return [Rule("INPUT", ("-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", share))]
