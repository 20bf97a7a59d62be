"""JSON-lines files the harness wrote (journal, samples), read back strictly.

A crash can cut off the last line mid-write: that line is skipped with a
note. Any other damage is an error naming the file and line (``UsageError``,
exit 2), since figures computed without it would not be the run's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic_core import from_json

from harness.errors import UsageError, reason

T = TypeVar("T")


def read_jsonl(path: Path, parse: Callable[[dict], T], notes: list[str] | None = None) -> list[T]:
    """Every line of ``path`` parsed (``parse`` raises ValueError or TypeError on a bad record)."""
    return list(iter_jsonl(path, parse, notes))


def iter_jsonl(path: Path, parse: Callable[[dict], T], notes: list[str] | None = None) -> Iterator[T]:
    """``read_jsonl`` a line at a time: a long run's samples are never held as text."""
    try:
        file = path.open("rb")
    except OSError as error:
        raise UsageError(f"{path} cannot be read ({error.strerror or error})") from None
    with file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                item = parse(json_object(line))
            except (ValueError, TypeError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
                if line.endswith(b"\n"):  # a newline follows: not where a crash cuts
                    raise UsageError(f"{path} line {number} is damaged ({reason(error)}); "
                                     "repair or remove it") from None
                if notes is not None:
                    notes.append(f"{path} line {number}: cut off by a crash, skipped")
            else:
                yield item


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    """``records`` as JSON lines into a new file at ``path``; how many were written."""
    count = 0
    with path.open("x", encoding="utf-8") as file:
        for count, record in enumerate(records, 1):
            file.write(json.dumps(record) + "\n")
    return count


def json_object(line: bytes) -> dict:
    """The JSON object on ``line``, as the standard library reads it (its errors too), only faster."""
    try:
        value = from_json(line)  # refuses a little the standard library takes: lone surrogates, deep nesting
    except ValueError:
        value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    return value


def finite_number(value: Any) -> bool:
    """A finite number that is no boolean and fits a float."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53
