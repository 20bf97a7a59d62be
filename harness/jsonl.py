"""JSON-lines files the harness wrote (journal, samples), read back strictly.

Only regular files are read, up to a size bound, a line of at most
``MAX_LINE_BYTES`` at a time (``harness.files``): a FIFO, ``/dev/zero`` or a
huge file is refused at once. A crash can cut off the last line mid-write:
that line is skipped with a note. Any other damage is an error naming the
file and line (``UsageError``, exit 2), since figures computed without it
would not be the run's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic_core import from_json

from harness.errors import UsageError, reason
from harness.files import GiB, MAX_LINE_BYTES, bounded_lines, open_regular, read_bytes, shown_size

T = TypeVar("T")
MAX_RUN_FILE_BYTES = 8 * GiB  # samples of a day at 500 requests a second are about 6.5 GiB


def read_jsonl(path: Path, parse: Callable[[dict], T], notes: list[str] | None = None,
               limit: int = MAX_RUN_FILE_BYTES) -> list[T]:
    """Every line of ``path`` parsed (``parse`` raises ValueError or TypeError on a bad record)."""
    return list(iter_jsonl(path, parse, notes, limit))


def iter_jsonl(path: Path, parse: Callable[[dict], T], notes: list[str] | None = None,
               limit: int = MAX_RUN_FILE_BYTES) -> Iterator[T]:
    """``read_jsonl`` a line at a time: a long run's samples are never held as text. Only a regular file of at
    most ``limit`` bytes is read (``harness.files``), each line at most ``MAX_LINE_BYTES``."""
    with open_regular(path, "run file", UsageError, limit) as file:
        for number, line in enumerate(bounded_lines(file, path, "run file", UsageError, limit), 1):
            if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise _damaged(path, number, f"longer than {shown_size(MAX_LINE_BYTES)}; the harness writes "
                                             "lines of a few hundred bytes")
            if not line.strip():
                continue
            try:
                item = parse(json_object(line))
            except (ValueError, TypeError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
                if line.endswith(b"\n"):  # a newline follows: not where a crash cuts
                    raise _damaged(path, number, reason(error)) from None
                if notes is not None:
                    notes.append(f"{path} line {number}: cut off by a crash, skipped")
            else:
                yield item


def _damaged(path: Path, number: int, why: str) -> UsageError:
    return UsageError(f"{path} line {number} is damaged ({why}); repair or remove it")


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    """``records`` as JSON lines into a new file at ``path``; how many were written."""
    count = 0
    with path.open("x", encoding="utf-8") as file:
        for count, record in enumerate(records, 1):
            file.write(json.dumps(record) + "\n")
    return count


def read_json(path: Path, what: str, limit: int) -> object:
    """The JSON document in ``path``, a regular file of at most ``limit`` bytes (``harness.files``); ``UsageError``
    naming the file and what is wrong."""
    data = read_bytes(path, what, UsageError, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
        raise UsageError(f"{path}: the {what} is not readable JSON ({reason(error)})") from None


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
