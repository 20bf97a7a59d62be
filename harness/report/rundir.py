"""A run directory read back for its report, every damage named by file and line.

A crash can cut off the last line of ``journal.jsonl`` or ``samples.jsonl``:
that line is skipped with a note. Any other damage makes the directory
unusable (``UsageError``, exit 2), since the figures would not be the run's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from harness.analysis import analyze, attribute
from harness.analysis.samples import Sample
from harness.compare import report_problem
from harness.errors import HarnessError, UsageError, one_line, reason
from harness.journal import JOURNAL_FILE, Event
from harness.load.runner import SAMPLES_FILE

T = TypeVar("T")
_CHECKS: dict[str, Callable[[Any], bool]] = {  # by the annotation of a Sample field
    "float": lambda value: _number(value),
    "int": lambda value: isinstance(value, int),
    "bool": lambda value: isinstance(value, bool),
    "str": lambda value: isinstance(value, str),
    "str | None": lambda value: value is None or isinstance(value, str),
}
_SAMPLE_CHECKS = {f.name: _CHECKS.get(str(f.type), lambda value: True) for f in fields(Sample)}


@dataclass(frozen=True)
class RunFiles:
    """One run directory's journal events and load samples, and notes on the lines skipped."""

    run_dir: Path
    events: list[Event]
    samples: list[Sample]
    notes: list[str]

    def analysed(self) -> dict:
        """The report document, analysed afresh; ``UsageError`` when the journal does not describe a run."""
        try:
            document = analyze(self.events, attribute(self.samples, self.events))
        except HarnessError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise self._unusable(reason(error)) from error
        if (problem := report_problem(document)) is not None:  # what the journal lacks that reports need
            raise self._unusable(problem)
        return document

    def _unusable(self, why: str) -> UsageError:
        return UsageError(f"{self.run_dir / JOURNAL_FILE} does not describe a run this harness can analyse ({why})")


def read_run(run_dir: Path) -> RunFiles:
    """The journal and samples of ``run_dir``; ``UsageError`` naming the file (and line) that is unusable."""
    journal = run_dir / JOURNAL_FILE
    if not journal.is_file():
        raise UsageError(f"{run_dir} is not a run directory: it has no {JOURNAL_FILE} "
                         "(`chaos-harness run` writes one into each run directory under --reports)")
    notes: list[str] = []
    events = read_lines(journal, _event, notes)
    samples = read_lines(run_dir / SAMPLES_FILE, _sample, notes) if (run_dir / SAMPLES_FILE).exists() else []
    return RunFiles(run_dir, events, sorted(samples, key=lambda s: s.t), notes)


def read_lines(path: Path, parse: Callable[[str], T], notes: list[str]) -> list[T]:
    """Every line of a JSON-lines file parsed; a cut-off last line noted in ``notes``, other damage an error."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as error:
        raise UsageError(f"{path} cannot be read ({error.strerror or error})") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(parse(line.decode("utf-8")))
        except (ValueError, TypeError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
            if number < len(lines):  # a newline follows: not where a crash cuts
                raise UsageError(f"{path} line {number} is damaged ({reason(error)}); repair or remove it") from None
            notes.append(f"{path} line {number}: cut off by a crash, skipped")
    return items


def _event(line: str) -> Event:
    record = _object(json.loads(line))
    if not _number(record.get("t")) or not isinstance(record.get("type"), str):
        raise ValueError("an event needs a number t and a string type")
    return Event(record.pop("t"), record.pop("type"), record)


def _sample(line: str) -> Sample:
    sample = Sample(**_object(json.loads(line)))  # TypeError names a missing or unknown field
    for name, check in _SAMPLE_CHECKS.items():
        if not check(value := getattr(sample, name)):
            raise ValueError(f"{name} is {one_line(repr(value), 40)}")
    return sample


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    return value


def _number(value: Any) -> bool:
    """A finite number that is no boolean and fits a float."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53
