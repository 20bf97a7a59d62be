"""The run journal: append-only JSON lines, the single source of truth of a run.

Every record has ``t`` (seconds since the epoch, the same clock the load
samples use) and ``type``; the rest are the record's own fields.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_FILE = "journal.jsonl"


@dataclass(frozen=True)
class Event:
    """One journal record."""

    t: float
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class Journal:
    """Appends events to ``journal.jsonl``; each line is flushed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = path.open("a", buffering=1, encoding="utf-8")

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


def read_journal(path: Path) -> list[Event]:
    """All events of a journal file, in the order written."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()  # cut off mid-write by a crash: the event never completed
    events = []
    for line in lines:
        if line.strip():
            record = json.loads(line)
            events.append(Event(record.pop("t"), record.pop("type"), record))
    return events
