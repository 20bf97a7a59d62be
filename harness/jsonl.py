"""JSON-lines files the harness wrote (journal, samples), read back strictly.

A crash can cut off the last line mid-write: that line is skipped with a
note. Any other damage is an error naming the file and line (``UsageError``,
exit 2), since figures computed without it would not be the run's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import UsageError, reason

T = TypeVar("T")


def read_jsonl(path: Path, parse: Callable[[dict], T], notes: list[str] | None = None) -> list[T]:
    """Every line of ``path`` parsed (``parse`` raises ValueError or TypeError on a bad record)."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as error:
        raise UsageError(f"{path} cannot be read ({error.strerror or error})") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(parse(json_object(line.decode("utf-8"))))
        except (ValueError, TypeError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
            if number < len(lines):  # a newline follows: not where a crash cuts
                raise UsageError(f"{path} line {number} is damaged ({reason(error)}); repair or remove it") from None
            if notes is not None:
                notes.append(f"{path} line {number}: cut off by a crash, skipped")
    return items


def json_object(line: str) -> dict:
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    return value


def finite_number(value: Any) -> bool:
    """A finite number that is no boolean and fits a float."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53
