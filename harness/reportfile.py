"""report.json: its name, what a report document must hold to be compared or rendered, and reading it back.

Below both the comparison (``harness.compare``) and the run directory reader
(``harness.report.rundir``): it imports neither.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError, one_line
from harness.journal import JOURNAL_FILE
from harness.jsonl import read_json

REPORT_FILE = "report.json"
MAX_REPORT_BYTES = 64 << 20  # a report lists at most 100 ids per outcome; its timeline grows a line per second

_ABSENT = object()
_NUMBER, _MAYBE, _NAME = (int, float), (int, float, type(None)), (str, type(None))
_FIELDS: dict[str, tuple[type, ...]] = {  # what a comparison reads from a report, and the types it needs
    "run_id": (str,), "scenario.name": (str,), "scenario.strategy.kind": _NAME, "passed": (bool,),
    "downtime": _MAYBE, "longest_outage": _MAYBE, "load.samples": _NUMBER, "load.failed": _NUMBER,
    "latency.p99": _MAYBE, "upgrade.outcome": (str,), "rollback.triggered": (bool,),
    "rollback.time_to_rollback": _MAYBE, "writes.lost": _MAYBE,
}
_SAID = {_NUMBER: "a number", _MAYBE: "a number or null", (str,): "a string", _NAME: "a string or null",
         (bool,): "true or false"}


def read_report(run_dir: Path) -> dict:
    """``run_dir``'s report.json, checked; ``UsageError`` naming the file when it is unreadable or no report."""
    path = run_dir / REPORT_FILE
    try:
        document = read_json(path, "report", MAX_REPORT_BYTES)
    except UsageError as error:
        raise UsageError(f"{error}{_rewrite_hint(path)}") from None
    return checked_report(document, path)


def checked_report(document: object, path: Path) -> dict:
    """``document`` when it has every field a comparison reads, with its type; else ``UsageError`` naming ``path``."""
    if (problem := report_problem(document)) is not None:
        raise UsageError(f"{path} is not a chaos-harness report: {problem}{_rewrite_hint(path)}")
    return document


def report_problem(document: object) -> str | None:
    """What keeps ``document`` from being a report a comparison (or a rendering) can read; None if nothing."""
    if not isinstance(document, dict):
        return f"it holds a JSON {type(document).__name__}"
    for dotted, types in _FIELDS.items():
        if not isinstance(value := field(document, dotted), types):
            found = "it has none" if value is _ABSENT else f"it is {one_line(repr(value), 40)}"
            return f"{dotted} should be {_SAID[types]}, {found}"
    app = document.get("app")  # absent in reports from before app profiles
    if app is not None and not (isinstance(app, dict) and isinstance(app.get("name"), str)):
        return "app should be an object with a name"
    return None


def field(document: dict, dotted: str, default: object = _ABSENT) -> object:
    """The value at ``a.b.c``, or ``default`` when a key on the way is missing."""
    value: object = document
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def number(document: dict, dotted: str) -> float | None:
    """The number at ``a.b.c``; None when it is missing or not a number (figures newer reports added)."""
    value = field(document, dotted, None)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _rewrite_hint(path: Path) -> str:
    journal = path.parent / JOURNAL_FILE
    return f"; `chaos-harness report {path.parent}` writes it again from {JOURNAL_FILE}" if journal.is_file() else ""
