"""``chaos-harness lint``: upgrade pitfalls read from the user's files, each finding with the run that shows it.

The facts (``facts``) are read once from the app profile's compose file and
Kubernetes objects; each rule (``rules``, or a plugin of the
``harness.lint_rules`` group) turns them into findings (``model``), which
``output`` writes as text, Markdown, JSON or SARIF.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.app.profile import Profile
from harness.errors import UsageError
from harness.lint.facts import of_profile
from harness.lint.model import SEVERITIES, Finding
from harness.lint.registry import available


def lint(profile: Profile, engines: Iterable[str], rules: Iterable[str] = ()) -> list[Finding]:
    """Every finding of every rule of ``engines`` (only ``rules``, when given) on the profile's stack, most severe
    first. UsageError naming the rules there are when one of ``rules`` is none."""
    chosen = set(rules)
    unknown = chosen - set(available())
    if unknown:
        raise UsageError(f"--rule {', '.join(sorted(unknown))}: no such rule; the rules: "
                         f"{', '.join(sorted(available()))}")
    facts = of_profile(profile)
    wanted = set(engines)
    found = [finding for name, rule in available().items() if rule.engine in wanted and (not chosen or name in chosen)
             for finding in rule().check(facts)]
    return sorted(found, key=lambda f: (SEVERITIES.index(f.severity), f.engine, f.rule, f.service))
