"""Findings as text for a terminal, Markdown for a job summary, JSON for scripts and SARIF 2.1.0 for code scanning
(each finding on the line it is about)."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

from harness import __version__
from harness.lint.model import Finding, Rule
from harness.lint.prove import Effect, Proven

LINT_SCHEMA = "chaos-harness/lint@1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"  # a finding's severity is its SARIF level


def shown_path(file: str, base: Path) -> str:
    """A finding's file relative to ``base`` when it is below it, else as it is."""
    path = Path(file)
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _place(finding: Finding, base: Path) -> str:
    line = f":{finding.location.line}" if finding.location.line else ""
    return f"{shown_path(finding.location.file, base)}{line}"


def as_text(findings: list[Finding], base: Path) -> str:
    """A paragraph a finding: severity, rule, file:line and key, then what happens, the fix, the proof, the
    reference."""
    if not findings:
        return "no upgrade pitfalls found"
    return "\n\n".join(
        f"{f.severity} {f.rule} ({f.engine}) {_place(f, base)} {f.location.key}\n  {f.message}\n  fix: {f.fix}\n"
        f"  proof: {f.proof.scenario} with {f.proof.settings}\n  see: {f.reference}" for f in findings)


def as_markdown(findings: list[Finding], base: Path) -> str:
    """A table for a CI job summary."""
    if not findings:
        return "**chaos-harness lint**: no upgrade pitfalls found\n"
    rows = [f"| {f.severity} | `{f.rule}` | `{_place(f, base)}` `{f.location.key}` | {f.message} | {f.fix} | "
            f"`{f.proof.scenario}` | [docs]({f.reference}) |" for f in findings]
    return "\n".join([f"**chaos-harness lint**: {len(findings)} finding(s)", "",
                      "| severity | rule | where | what clients will see | fix | proof | reference |",
                      "|---|---|---|---|---|---|---|", *rows]) + "\n"


def as_json(findings: list[Finding], profile: Path, engines: list[str], base: Path,
            proven: list[Proven] | None = None) -> str:
    """The findings (and, after ``--prove``, each proof's runs and verdicts) as one JSON document."""
    document = {"schema": LINT_SCHEMA, "profile": shown_path(str(profile), base), "engines": engines,
                "findings": [_finding_json(f, base) for f in findings]}
    if proven is not None:
        document["proofs"] = proofs_json(proven, base)
    return json.dumps(document, indent=2)


def _finding_json(finding: Finding, base: Path) -> dict:
    return {"rule": finding.rule, "severity": finding.severity, "engine": finding.engine, "service": finding.service,
            "file": shown_path(finding.location.file, base), "key": finding.location.key,
            "line": finding.location.line, "message": finding.message, "fix": finding.fix,
            "reference": finding.reference,
            "proof": {"scenario": finding.proof.scenario, "settings": finding.proof.settings,
                      "fix": finding.proof.fix}}


def as_sarif(findings: list[Finding], rules: dict[str, type[Rule]], base: Path) -> str:
    """A SARIF 2.1.0 log of one run: every rule (its reasoning as full description), every finding at its file and
    line, paths relative to ``base`` (the repository's root, where CI runs lint)."""
    ids = sorted(rules)
    return json.dumps({
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "chaos-harness", "version": __version__,
                                "rules": [_rule_sarif(rules[name]) for name in ids]}},
            "originalUriBaseIds": {"SRCROOT": {"uri": base.resolve().as_uri() + "/"}},
            "results": [_result_sarif(f, ids.index(f.rule) if f.rule in ids else None, base) for f in findings],
        }],
    }, indent=2)


def _rule_sarif(rule: type[Rule]) -> dict:
    return {"id": rule.name, "name": "".join(part.title() for part in rule.name.split("-")),
            "shortDescription": {"text": rule.name.replace("-", " ")},
            "fullDescription": {"text": " ".join(inspect.getdoc(rule).split())},
            "helpUri": rule.reference, "help": {"text": f"Shown by the scenario {rule.proof.scenario}: "
                                                        f"{rule.proof.settings}. {rule.reference}"},
            "defaultConfiguration": {"level": rule.severity},
            "properties": {"engine": rule.engine, "proof": rule.proof.scenario}}


def _result_sarif(finding: Finding, index: int | None, base: Path) -> dict:
    path = shown_path(finding.location.file, base)
    artifact = ({"uri": path, "uriBaseId": "SRCROOT"} if not os.path.isabs(path)
                else {"uri": Path(path).as_uri()})
    physical: dict = {"artifactLocation": artifact}
    if finding.location.line:
        physical["region"] = {"startLine": finding.location.line}
    logical = {"name": finding.service, "fullyQualifiedName": finding.location.key}
    result = {"ruleId": finding.rule, "level": finding.severity,
              "message": {"text": f"{finding.message}. Fix: {finding.fix}."},
              "locations": [{"physicalLocation": physical, "logicalLocations": [logical]}]}
    return result | ({"ruleIndex": index} if index is not None else {})


def _verdict(proven: Proven) -> str:
    return {True: "reproduced", False: "not reproduced on this stack", None: "no report"}[proven.reproduced]


def _fixed(proven: Proven, base: Path) -> str:
    if proven.fixed_dir is None:
        return _fixed_words(proven)
    return f"{_fixed_words(proven)} (`{shown_path(str(proven.fixed_dir), base)}`)"


def proofs_markdown(proven: list[Proven], base: Path) -> str:
    """Predicted beside observed: each proof run, and its fixed variant."""
    rows = [f"| `{p.finding.rule}` | {p.finding.service} | {p.effect.predicted} | {Effect.observed(p.report)} "
            f"(`{shown_path(str(p.run_dir), base)}`) | {_verdict(p)} | {_fixed(p, base)} |" for p in proven]
    return "\n".join(["**chaos-harness lint --prove**: predicted, then observed", "",
                      "| rule | service | predicted | observed | verdict | with the fix |", "|---|---|---|---|---|---|",
                      *rows]) + "\n"


def proofs_json(proven: list[Proven], base: Path) -> list[dict]:
    return [{"rule": p.finding.rule, "service": p.finding.service, "scenario": p.finding.proof.scenario,
             "predicted": p.effect.predicted, "run_dir": shown_path(str(p.run_dir), base),
             "observed": Effect.observed(p.report), "reproduced": p.reproduced,
             "fixed_run_dir": shown_path(str(p.fixed_dir), base) if p.fixed_dir else None,
             "fixed_observed": Effect.observed(p.fixed_report) if p.fixed_dir else None,
             "fix_removed": p.fix_removed} for p in proven]


def proofs_html(proven: list[Proven], directory: Path, title: str) -> str:
    """lint.html in ``directory`` (the proof runs' parent): predicted beside observed, each run's report linked."""
    from harness.report.html import environment

    def report(run_dir: Path | None) -> str | None:
        return f"{run_dir.name}/report.html" if run_dir is not None and run_dir.parent == directory else None

    rows = [{"rule": p.finding.rule, "service": p.finding.service, "predicted": p.effect.predicted,
             "observed": Effect.observed(p.report), "report": report(p.run_dir), "reproduced": p.reproduced,
             "verdict": _verdict(p), "fixed": _fixed_words(p), "fixed_report": report(p.fixed_dir)} for p in proven]
    return environment.get_template("lint.html.j2").render(title=title, rows=rows)


def _fixed_words(proven: Proven) -> str:
    if proven.fixed_dir is None:
        return "the harness cannot apply the fix"
    removed = {True: "the effect is gone", False: "the effect remains", None: "no report"}[proven.fix_removed]
    return f"{removed}: {Effect.observed(proven.fixed_report)}"
