"""Small, checked operations inside a node: firewall rules, processes, signals.

Every firewall rule the harness adds carries the comment ``chaos-harness`` so
that it can be told apart from the engine's own rules, and is removed by
repeating its exact specification.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ClusterError
from harness.faults.base import FaultContext

RULE_COMMENT = "chaos-harness"


@dataclass(frozen=True)
class Rule:
    """One iptables rule in one of the node's tables (``raw`` sees packets before any address translation)."""

    chain: str
    match: tuple[str, ...]
    action: str = "DROP"
    table: str = "filter"

    def argv(self, operation: str) -> list[str]:
        return ["iptables", "-w", "-t", self.table, operation, self.chain, *self.match,
                "-m", "comment", "--comment", RULE_COMMENT, "-j", self.action]


def run(ctx: FaultContext, node: str, argv: list[str], what: str) -> str:
    """Run ``argv`` on ``node``; a non-zero exit is an error naming ``what`` failed."""
    result = ctx.cluster.exec(node, argv)
    if not result.ok:
        raise ClusterError(f"cannot {what} on {node}: {result.output.strip()[-500:]}")
    return result.output


def add_rules(ctx: FaultContext, node: str, rules: list[Rule]) -> None:
    """Insert rules at the top of their chains (idempotent)."""
    for rule in rules:
        if not has_rule(ctx, node, rule):
            run(ctx, node, rule.argv("-I"), f"add firewall rule {' '.join(rule.argv('-I'))}")


def delete_rules(ctx: FaultContext, node: str, rules: list[Rule]) -> None:
    """Delete every copy of the rules; a rule already gone is fine."""
    for rule in rules:
        while has_rule(ctx, node, rule):
            run(ctx, node, rule.argv("-D"), "delete a firewall rule")


def has_rule(ctx: FaultContext, node: str, rule: Rule) -> bool:
    return ctx.cluster.exec(node, rule.argv("-C")).ok


def resolve(ctx: FaultContext, node: str, name: str) -> str:
    """The address ``name`` resolves to on ``node`` (as its engine would see it)."""
    output = run(ctx, node, ["getent", "hosts", name], f"resolve {name}")
    return output.split()[0]


def pids(ctx: FaultContext, node: str, program: str) -> list[str]:
    """PIDs of ``program`` on ``node`` (empty when it does not run)."""
    result = ctx.cluster.exec(node, ["pidof", program])
    return result.output.split() if result.ok else []


def process_state(ctx: FaultContext, node: str, pid: str) -> str:
    """The one-letter state of a process on ``node`` (R, S, T, Z…), or '' when it is gone."""
    result = ctx.cluster.exec(node, ["sh", "-c", f"awk '/^State:/ {{print $2}}' /proc/{pid}/status"])
    return result.output.strip() if result.ok else ""
