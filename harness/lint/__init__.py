"""``chaos-harness lint``: upgrade pitfalls read from the user's files, each finding with the run that shows it.

The facts (``facts``) are read once from the app profile's compose file and
Kubernetes objects; each rule (``rules``, or a plugin of the
``harness.lint_rules`` group) turns them into findings (``model``), which
``output`` writes as text, Markdown, JSON or SARIF.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.app.profile import Profile
from harness.lint.facts import of_profile
from harness.lint.model import SEVERITIES, Finding
from harness.lint.registry import available


def lint(profile: Profile, engines: Iterable[str]) -> list[Finding]:
    """Every finding of every rule of ``engines`` on the profile's stack, most severe first."""
    facts = of_profile(profile)
    wanted = set(engines)
    found = [finding for rule in available().values() if rule.engine in wanted for finding in rule().check(facts)]
    return sorted(found, key=lambda f: (SEVERITIES.index(f.severity), f.engine, f.rule, f.service))
