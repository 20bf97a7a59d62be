"""The documentation's reference pages, generated from the code so they cannot drift from it.

``pages()`` maps a path under ``docs/`` to its Markdown: the scenario and app
profile schemas (from the pydantic models), the fault catalogue (from the
``harness.faults`` entry points), the command line (from click), the exit
codes (from the exception tree) and report.json's fields (from an analysis of
example runs). The documentation build adds them to the site (``docs/hooks.py``);
a unit test checks that every option, key and parameter is on them.
"""

from __future__ import annotations

import inspect
import json
import re
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from harness.models import parse_duration

__all__ = ["cli_page", "exit_codes_page", "faults_page", "model_page", "pages", "report_page"]

_SCALARS = {str: "text", int: "integer", float: "number", bool: "true or false", type(None): "null"}
_BOUNDS = ((at.Ge, "ge", "≥ {value}"), (at.Gt, "gt", "> {value}"), (at.Le, "le", "≤ {value}"),
           (at.Lt, "lt", "< {value}"), (at.MinLen, "min_length", "at least {value} {unit}"),
           (at.MaxLen, "max_length", "at most {value} {unit}"))
_DURATION_BOUNDS = {("ge", 0), ("le", 86400.0)}  # what every duration allows; said once per page


def pages() -> dict[str, str]:
    """Every generated reference page by its path under ``docs/``."""
    from harness.app.profile import AppProfile
    from harness.scenario.model import Scenario

    return {
        "reference/scenario.md": model_page(Scenario, "Scenario file", _SCENARIO_INTRO),
        "reference/app-profile.md": model_page(AppProfile, "App profile", _PROFILE_INTRO),
        "reference/faults.md": faults_page(),
        "reference/lint-rules.md": lint_rules_page(),
        "reference/cli.md": cli_page(),
        "reference/exit-codes.md": exit_codes_page(),
        "reference/report-json.md": report_page(),
    }


# -- pydantic models ---------------------------------------------------------------------------------------------

_SCENARIO_INTRO = ("A scenario says what goes wrong and what is expected; it names no image, service or path, so it "
                   "runs against any app profile. Fault parameters are on the [fault catalogue](faults.md).")
_PROFILE_INTRO = ("An app profile says what is upgraded and what a good answer is. Paths in it are relative to the "
                  "profile file; the compose file is read, never changed on disk.")
_DURATIONS = ("*duration*: a number of seconds or a text such as `500ms`, `5s`, `2m`, `1h`; from 0 to 24 h. "
              "Unknown keys are errors.")


def model_page(root: type[BaseModel], title: str, intro: str) -> str:
    """A page with one section per model reachable from ``root``: each key with its type, default, description."""
    models = _models_under(root)
    lines = [_generated(title), intro, "", _DURATIONS, ""]
    for model, paths in models.items():
        lines += _model_section(model, paths)
    return "\n".join(lines)


def _models_under(root: type[BaseModel]) -> dict[type[BaseModel], list[str]]:
    """Every model reachable from ``root`` with the key paths it is found at, in the order first found."""
    found: dict[type[BaseModel], list[str]] = {root: [""]}
    queue: list[tuple[type[BaseModel], str]] = [(root, "")]
    while queue:
        model, prefix = queue.pop(0)
        for key, field in model.model_fields.items():
            path = f"{prefix}{field.alias or key}"
            for child, suffix in _nested_models(field.annotation, ""):
                if child not in found:
                    queue.append((child, f"{path}{suffix}."))
                found.setdefault(child, []).append(path + suffix)
    names = [model.__name__ for model in found]
    if len(names) != len(set(names)):
        raise ValueError(f"two models of {root.__name__} share a name, so their sections would too: {names}")
    return found


def _nested_models(annotation: Any, suffix: str) -> Iterator[tuple[type[BaseModel], str]]:
    """The models inside a type, each with the key suffix that reaches it (``[]`` in a list, ``.<name>`` in a map)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        yield from _nested_models(args[0], suffix)
    elif origin is list:
        yield from _nested_models(args[0], suffix + "[]")
    elif origin is dict:
        yield from _nested_models(args[1], suffix + ".<name>")
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _nested_models(arg, suffix)


def _model_section(model: type[BaseModel], paths: list[str]) -> list[str]:
    lines = [f"## {_code(paths[0]) if paths[0] else 'Top level'} {{ #{_anchor(model)} }}", ""]
    if len(paths) > 1:
        lines += ["Also at " + ", ".join(f"`{path}`" for path in paths[1:]) + ".", ""]
    lines += [_docstring(model), "", "| key | type | default | description |", "|---|---|---|---|"]
    for key, field in model.model_fields.items():
        lines.append(_field_row(field.alias or key, field))
    return lines + [""]


def _field_row(key: str, field: FieldInfo) -> str:
    return f"| `{key}` | {_type(field.annotation, field.metadata)} | {_default(field)} | {_cell(_describe(field))} |"


def _anchor(model: type) -> str:
    return model.__name__.lower()


def _type(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """A type as a reader of YAML knows it: text, duration, one of some values, list of, mapping of, a section."""
    if any(getattr(m, "func", None) is parse_duration for m in metadata):
        return "duration"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type(args[0], [*args[1:], *_inner_metadata(args[1:])])
    if origin is Literal:
        return ", ".join(_code(value if isinstance(value, str) else json.dumps(value)) for value in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_type(arg) for arg in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}"
    return _SCALARS.get(annotation, "any")


def _inner_metadata(items: tuple[Any, ...]) -> list[Any]:
    return [m for item in items if isinstance(item, FieldInfo) for m in item.metadata]


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        given = value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return _code(_flow(given)) if given else "its keys' defaults"
    if isinstance(value, float) and _type(field.annotation, field.metadata) == "duration":
        return f"`{value:g}s`"
    return "none" if value is None else _code(_flow(value))


def _flow(value: Any) -> str:
    """A value as YAML's flow style writes it: ``{phase: upgrade, offset: 1.0}``, ``[2xx]``, ``true``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return (value or '""') if isinstance(value, str) else json.dumps(value)


def _describe(field: FieldInfo) -> str:
    """The field's description with the bounds and pattern its value must keep."""
    patterns = [f"matches {_code(m.pattern)}" for m in field.metadata if getattr(m, "pattern", None)]
    return "; ".join(filter(None, [field.description or "", ", ".join(_bounds(field) + patterns)]))


def _bounds(field: FieldInfo) -> list[str]:
    """``≥ 1``, ``at most 10 items``, ...: the field's bounds, but those every duration has."""
    kind = _type(field.annotation, field.metadata)
    unit = "characters" if kind == "text" else "items"
    said = []
    for m in (*field.metadata, *_inner_metadata(get_args(field.annotation))):
        for bound, name, template in _BOUNDS:
            value = getattr(m, name, None) if isinstance(m, bound) else None
            if value is not None and not (kind.startswith("duration") and (name, value) in _DURATION_BOUNDS):
                said.append(template.format(value=_number(value), unit=unit))
    return said


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- fault plugins ------------------------------------------------------------------------------------------------

def faults_page() -> str:
    """Every fault plugin of the ``harness.faults`` entry points: what it does, and its parameters."""
    from harness.faults.registry import GROUP, available

    lines = [_generated("Fault catalogue"),
             f"Every fault installed through the `{GROUP}` entry points. A scenario names one by `kind` and sets "
             "its parameters under `params`; [`faults[]`](scenario.md#faultspec) says where and when it strikes.",
             ""]
    for name, plugin in sorted(available().items()):
        lines += [f"## {name}", "", plugin.description, "", _docstring(plugin), ""]
        fields = plugin.Params.model_fields
        if not fields:
            lines += ["No parameters.", ""]
            continue
        lines += ["| parameter | type | default | description |", "|---|---|---|---|"]
        lines += [_field_row(key, field) for key, field in fields.items()]
        lines.append("")
    return "\n".join(lines)


def lint_rules_page() -> str:
    """Every lint rule of the ``harness.lint_rules`` entry points: its engine, severity, reasoning, the run that
    shows it and its reference."""
    from harness.lint.registry import GROUP, available

    lines = [_generated("Lint rules"),
             f"Every rule installed through the `{GROUP}` entry points, as `chaos-harness lint` applies them. A rule "
             "reads the files the engine would deploy; its proof is the shipped scenario that shows its effect on "
             "the clients.", "",
             "| rule | engine | severity | proof | reference |", "|---|---|---|---|---|"]
    rules = sorted(available().items(), key=lambda item: (item[1].engine, item[0]))
    lines += [f"| [`{name}`](#{name}) | {rule.engine} | {rule.severity} | `{rule.proof.scenario}` | "
              f"[{rule.reference.split('//')[1].split('/')[0]}]({rule.reference}) |" for name, rule in rules]
    lines.append("")
    for name, rule in rules:
        fix = f" The fixed variant: {rule.proof.fix}." if rule.proof.fix else ""
        lines += [f"## {name}", "", f"*{rule.engine}, {rule.severity}*", "", _docstring(rule), "",
                  f"**Proof**: the scenario `{rule.proof.scenario}` with {rule.proof.settings}.{fix}", "",
                  f"**Reference**: <{rule.reference}>", ""]
    return "\n".join(lines)


# -- the command line ---------------------------------------------------------------------------------------------

def cli_page() -> str:
    """Every command of ``chaos-harness`` with its usage, help and options, as ``--help`` shows them."""
    from harness.cli import main

    lines = [_generated("Command line"),
             "Global options go before the command: `chaos-harness --cluster staging run ...`.", ""]
    for path, command, context in _commands(main, "chaos-harness", None):
        lines += [f"## {path}", "", "```text", command.get_usage(context), "```", "",
                  _help_text(command.help or ""), ""]
        rows = [record for param in command.get_params(context)
                if isinstance(param, click.Option) and not param.hidden
                and (record := param.get_help_record(context)) is not None]
        if rows:
            lines += ["| option | help |", "|---|---|"]
            lines += [f"| {_cell(_code(options))} | {_cell(_no_machine_path(text, options))} |"
                      for options, text in rows]
            lines.append("")
    return "\n".join(lines)


def _commands(command: click.Command, path: str,
              parent: click.Context | None) -> Iterator[tuple[str, click.Command, click.Context]]:
    """``command`` and every command under it, each with its full name and a context to render it in."""
    context = click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
    yield path, command, context
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _commands(command.commands[name], f"{path} {name}", context)


def _help_text(text: str) -> str:
    """click's help as Markdown: its no-rewrap markers dropped, paragraphs kept."""
    return "\n".join(line for line in inspect.cleandoc(text).splitlines() if line.strip() != "\b")


def _no_machine_path(text: str, options: str) -> str:
    """The option's help, refused when it shows a default that is a path on the machine the docs were built on."""
    if "[default: /" in text:
        raise ValueError(f"option {options} shows an absolute path as its default ({text!r}); give it "
                         "show_default with the path as a user would write it")
    return text


# -- exit codes ---------------------------------------------------------------------------------------------------

def exit_codes_page() -> str:
    """The exit codes every command ends with, from the exception tree and the command line's own codes."""
    from harness.cli import EXIT_BROKE, EXIT_INTERRUPTED
    from harness.errors import HarnessError

    by_code: dict[int, list[type]] = {}
    for error in _subclasses(HarnessError):
        by_code.setdefault(error.exit_code, []).append(error)
    meaning = {
        0: "every expectation met, or the command did what it was asked",
        1: "an expectation failed, or what a command checks was found wanting (`matrix`: a run failed; `sweep`: a "
           "run did not report; `app check`: an answer was not attributed to a release or failed its check; "
           "`calibrate`: an error outside its bound; `audit`: something was left behind; `down`: something not "
           "undone or not as before; `cluster status`: a node it cannot log in to; `doctor`: something required "
           "is missing)",
        2: "unusable input, named with its file (and line): a scenario, an app profile, an inventory, an option "
           "(`--cluster` takes a lowercase letter, then up to 30 lowercase letters, digits or dashes), a run "
           "directory or `report.json` that is missing or damaged; a run refused before it started (`matrix`, "
           "`sweep`: any of their runs)",
        3: "an environment or cluster problem: no Docker engine, a Vagrant failure, the engine refused, a fault "
           "that could not be healed",
        EXIT_BROKE: "the harness broke (a bug): one line `error: the harness broke: <type>: <message> — traceback "
                    "in <file>`; the traceback is in `$CHAOS_HOME/crashes/crash-<time>-<pid>.log` (the temp "
                    "directory if that is not writable)",
        EXIT_INTERRUPTED: "interrupted (faults were healed first)",
    }
    lines = [_generated("Exit codes"),
             "Every command ends with one of these, so CI can tell *the system under test failed* from *the "
             "harness broke*. An error's message names the file, key or host it is about.", "",
             "| code | meaning | raised as |", "|---|---|---|"]
    for code in sorted({*meaning, *by_code}):
        raised = "; ".join(f"`{e.__name__}`: {_docstring(e)}" for e in by_code.get(code, []))
        lines.append(f"| {code} | {_cell(meaning.get(code, ''))} | {_cell(raised)} |")
    return "\n".join(lines + [""])


def _subclasses(base: type) -> list[type]:
    return [base] + [sub for child in base.__subclasses__() for sub in _subclasses(child)]


# -- report.json --------------------------------------------------------------------------------------------------

REPORT_FIELDS = {
    "schema": "the document's schema and its version",
    "run_id": "the run directory's name",
    "scenario": "the scenario as run, its strategy kind resolved (see the [scenario file](scenario.md))",
    "app": "the app profile: its name, file, old and new release, entry service, upgraded services, whether it "
           "has a write probe, its revision (a digest of the profile and the files it names: `compare` never "
           "folds two revisions into one row), the form deployed (`compose` or `kubernetes`) and what the "
           "harness changed in it (`changes`)",
    "cluster": "the cluster's name, nodes, provider, engine (`swarm` or `kubernetes`) and engine version, and the "
               "machine the harness ran on (its host name: its clock timed the run; `compare` names it)",
    "started_at": "the run's start, seconds since the epoch on the samples' clock",
    "ended_at": "the run's end (null when the journal has no end)",
    "status": "completed, failed, interrupted, refused, or incomplete (a journal without an end)",
    "error": "the error that ended the run, or null",
    "load": "the load as run (rate, timeout, users, where the rate came from) and what the analysis counted",
    "availability": "successful requests / all requests",
    "downtime": "the sum of the outage windows, in seconds",
    "longest_outage": "the longest outage window, in seconds",
    "outages": "every outage window: start, end, failed requests, whether it was still open at the end",
    "phases": "per phase: its span, requests, availability and latency",
    "latency": "p50, p95, p99 and max of every request, in seconds, failures included",
    "versions": "the release mix: first new-release response, last old-release response, the mixed window",
    "timeline": "per second of the run: requests, failures, latency, responses per release",
    "propagation": "a switch's way to the clients (blue-green, service-switch; null without a switch): from its "
                   "request (`requested_at`), seconds to the first new-release answer and to the last old-release "
                   "one, the window to the later of them, old-release answers after the request (under "
                   "service-switch, connections opened before it stay on blue's pods), failed requests and "
                   "successes with no release named in the window; per node (`nodes`, service-switch), the first "
                   "new connection its kube-proxy translated to a new-release pod and the last to an old-release "
                   "one, in seconds after the request; per release, the answers after the request on connections "
                   "opened before it (`kept_alive`)",
    "upgrade": "the upgrade's outcome, its duration, the engine's last state and message",
    "rollback": "whether a rollback was triggered, by what, whether it succeeded (and why not), its time",
    "writes": "acknowledged writes and what the read-back found: present, absent (lost), unverifiable",
    "faults": "every fault: kind, target, inject and heal times, time until its effect showed, what the engine "
              "refused while it held (`engine_said`: a drain's evictions a PodDisruptionBudget refused)",
    "timings": "the harness's own time: prepare, each phase, heal, read-back, logs, analysis, rendering, overhead",
    "verdicts": "one per expectation: name, expected, measured, passed",
    "passed": "every expectation met and the run completed",
}
_NAMED = {"phases": "<phase>", "load.errors": "<error>", "versions.counts": "<release>",
          "timeline[].versions": "<release>", "writes.during_run.by_phase": "<phase>", "timings.phases": "<phase>"}
_JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null",
               list: "list", dict: "object"}


def report_page() -> str:
    """report.json's fields: each top-level field described, and the fields inside it as example runs fill them."""
    from harness.analysis import REPORT_SCHEMA
    from harness.reportfile import _FIELDS as READ_BY_COMPARE  # what compare and report need, with their types

    documents = _example_reports()
    found = _field_types(documents)
    for path, kinds in READ_BY_COMPARE.items():  # inside the scenario, which the table leaves to its own page
        found.setdefault(path, " or ".join(sorted({_JSON_TYPES[kind] for kind in kinds})))
    top = list(documents[0])
    if missing := set(top) ^ set(REPORT_FIELDS):
        raise ValueError(f"report.json's fields and REPORT_FIELDS differ in {sorted(missing)}: describe each field "
                         "the analysis writes, and only those")
    lines = [_generated("report.json"),
             f"Every run directory's `report.json` has the schema `{REPORT_SCHEMA}` (its `schema` field). It is "
             "rendered from the journal and the samples alone; `chaos-harness report RUN_DIR` writes it again. "
             "Fields marked *read by compare* must be there, with that type, for `compare` and `report` to accept "
             "the document.", "",
             "| field | description |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(REPORT_FIELDS[key])}{'; *read by compare*' if key in READ_BY_COMPARE else ''} |"
              for key in top]
    lines += ["", "## Fields inside", "",
              "As the analysis of example runs (a completed, a rolled-back and a refused one) fills them: `[]` is "
              "an item of a list, `<name>` a key that is a name (of a phase, a release, an error). A type the "
              "examples left `null` can hold a value in other runs. The scenario's own fields are on its "
              "[reference page](scenario.md).", "", "| field | type | |", "|---|---|---|"]
    lines += [f"| `{path}` | {kind} | {'*read by compare*' if path in READ_BY_COMPARE else ''} |"
              for path, kind in found.items() if "." in path or "[]" in path]
    return "\n".join(lines + [""])


def _example_reports() -> list[dict]:
    """The report documents of the unit tests' example runs, analysed as any run is."""
    from harness.analysis import analyze_run_dir
    from harness.testing import make_refused_run_dir, make_run_dir

    makers: list[Callable[[Path], Path]] = [
        lambda root: make_run_dir(root, "completed", "in-service", 1.0),
        lambda root: make_run_dir(root, "rolled-back", "blue-green", 0.5, rollback_seconds=2.0),
        lambda root: make_refused_run_dir(root, "refused", "in-service", "no target"),
    ]
    with tempfile.TemporaryDirectory() as root:
        return [analyze_run_dir(make(Path(root))) for make in makers]


def _field_types(documents: list[dict]) -> dict[str, str]:
    """Every field path in ``documents`` (but the scenario's) with the JSON types seen at it."""
    seen: dict[str, set[str]] = {}
    for document in documents:
        for path, value in _walk(document, ""):
            seen.setdefault(path, set()).add(_JSON_TYPES.get(type(value), "any"))
    return {path: " or ".join(sorted(kinds)) for path, kinds in seen.items()}


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if path:
        yield path, value
    if path == "scenario":
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{_NAMED.get(path, key)}" if path else key)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield from _walk(item, f"{path}[]")


# -- shared -------------------------------------------------------------------------------------------------------

def _generated(title: str) -> str:
    return f"# {title}\n\n<!-- generated from the code by harness.docsgen; do not edit -->\n"


def _docstring(thing: Any) -> str:
    """A class's docstring as a paragraph (Sphinx's ``double backticks`` as Markdown code)."""
    text = " ".join((thing.__doc__ or "").split())
    return text.replace("``", "`")


def _code(text: str) -> str:
    """``text`` as a code span, fenced with two backticks when it holds one."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


_CODE_SPAN = re.compile(r"(`+).+?\1")


def _cell(text: str) -> str:
    """Text fit for a table cell: one line, pipes escaped but in code spans (where a table leaves them be)."""
    line, cells, start = " ".join(text.split()), [], 0
    for span in _CODE_SPAN.finditer(line):
        cells += [line[start:span.start()].replace("|", "\\|"), span.group()]
        start = span.end()
    return "".join(cells) + line[start:].replace("|", "\\|")
