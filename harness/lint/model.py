"""What a lint rule is and what it finds: a finding names its rule, the file and key it is about, what clients will
see during an upgrade and why, how to fix it, a public reference, and the run that shows it (its proof)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from harness.lint.facts import StackFacts

Severity = Literal["error", "warning", "note"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")  # most severe first


@dataclass(frozen=True)
class Location:
    """Where a finding points: a file's path, a key in it, and the key's line when known."""

    file: str
    key: str
    line: int | None = None


@dataclass(frozen=True)
class Proof:
    """The smallest run that shows a rule's effect: a shipped scenario, what it keeps of the user's stack, the
    effect looked for in its report (``harness.lint.prove.EFFECTS``), and the fixed variant in words (empty when
    the harness cannot apply the fix itself)."""

    scenario: str
    settings: str
    effect: str
    fix: str = ""


@dataclass(frozen=True)
class Finding:
    """One rule's finding on one service or workload."""

    rule: str
    severity: Severity
    engine: str
    service: str
    location: Location
    message: str  # what clients will see during an upgrade, and why
    fix: str
    reference: str
    proof: Proof
    run: dict  # the proof scenario's changes: the user's settings
    fixed: dict | None = None  # the changes that apply the fix on top of ``run``; None: not applied by the harness

    def at_least(self, severity: Severity) -> bool:
        """Whether this finding is as severe as ``severity`` or more."""
        return SEVERITIES.index(self.severity) <= SEVERITIES.index(severity)


class Rule(ABC):
    """An upgrade pitfall that can be read from the user's files. A plugin registers its subclass in the
    ``harness.lint_rules`` entry-point group under its ``name``; its docstring is its reasoning."""

    name: ClassVar[str]
    engine: ClassVar[str]  # the engine whose files it reads: swarm (the compose file) or kubernetes (the objects)
    severity: ClassVar[Severity]
    reference: ClassVar[str]  # the engine's documentation, or a tracker issue
    proof: ClassVar[Proof]

    def check(self, facts: StackFacts) -> list[Finding]:
        """The findings on the stack's services or workloads it ``applies`` to (none when the pitfall is absent)."""
        return [found for subject in self.subjects(facts) if self.applies(subject)
                for found in [self.found(facts, subject)] if found is not None]

    @abstractmethod
    def subjects(self, facts: StackFacts) -> Sequence:
        """What the rule reads: the engine's services or workloads."""

    def applies(self, subject) -> bool:
        """Whether the rule is about ``subject`` at all (by default: an upgraded one)."""
        return subject.upgraded

    @abstractmethod
    def found(self, facts: StackFacts, subject) -> Finding | None:
        """The pitfall on ``subject``, or None."""

    def finding(self, service: str, location: Location, message: str, fix: str, run: dict,
                fixed: dict | None = None) -> Finding:
        """A finding of this rule; ``run`` and ``fixed``: the changes to the proof scenario that give it the
        user's settings, and those that then apply the fix."""
        return Finding(self.name, self.severity, self.engine, service, location, message, fix, self.reference,
                       self.proof, run, fixed)
