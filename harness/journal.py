"""The run journal: append-only JSON lines, the single source of truth of a run.

Every record has ``t`` (seconds since the epoch, the same clock the load
samples use) and ``type``; the rest are the record's own fields.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.files import MiB, open_append
from harness.jsonl import finite_number, read_jsonl

JOURNAL_FILE = "journal.jsonl"
MAX_JOURNAL_BYTES = 256 * MiB  # a run's journal is a few KB to a few MB


@dataclass(frozen=True)
class Event:
    """One journal record."""

    t: float
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class Journal:
    """Appends events to ``journal.jsonl``; each line is flushed as it is written (never through a link)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = io.TextIOWrapper(open_append(path), encoding="utf-8", line_buffering=True)

    def write(self, type: str, t: float | None = None, **data: Any) -> Event:
        """Record an event now (or at ``t``) and return it."""
        event = Event(time.time() if t is None else t, type, data)
        line = json.dumps({"t": event.t, "type": type, **data}, default=str)
        with self._lock:
            self._file.write(line + "\n")
        return event

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_journal(path: Path, notes: list[str] | None = None) -> list[Event]:
    """All events of a journal file, in the order written (see ``harness.jsonl`` for damaged lines)."""
    return read_jsonl(path, _event, notes, MAX_JOURNAL_BYTES)


def _event(record: dict) -> Event:
    if not finite_number(record.get("t")) or not isinstance(record.get("type"), str):
        raise ValueError("an event needs a number t and a string type")
    return Event(record.pop("t"), record.pop("type"), record)
