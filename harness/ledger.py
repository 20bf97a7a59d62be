"""The heal ledger: before a fault is injected, how to heal it is written to disk.

``heal-ledger.jsonl`` in the run directory holds ``pending`` records (fault
kind, target, parameters) and ``healed`` records. Whatever is pending after a
crash is healed, last in first out, by ``chaos-harness heal``.

A crash can cut the last line off; a record is written before its fault is
injected, so a cut-off ``pending`` line names a fault that never happened.
Damaged lines (that one, or any other that is not a record) are skipped and
reported by ``HealLedger.damaged``; the rest is still healed. A ledger that
is no regular file (a FIFO, a link to a device) or is too large is not read
at all (``HealLedger.unreadable``), and it is never written through a link.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError, one_line, reason
from harness.files import MiB, open_append, read_bytes

LEDGER_FILE = "heal-ledger.jsonl"
MAX_LEDGER_BYTES = 16 * MiB  # two short lines per fault a run injected


@dataclass(frozen=True)
class LedgerEntry:
    """A fault that was (or was about to be) injected and how to undo it."""

    id: str
    kind: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    cluster: str = "chaos"


class HealLedger:
    """Durable record of pending heals for one run."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LEDGER_FILE
        self._lock = threading.Lock()

    def record(self, entry: LedgerEntry) -> None:
        """Write the heal of ``entry`` before its fault is injected (fsynced)."""
        self._append({"op": "pending", **entry.__dict__})

    def mark_healed(self, entry_id: str) -> None:
        self._append({"op": "healed", "id": entry_id})

    def pending(self) -> list[LedgerEntry]:
        """Entries not yet healed, most recent first (the order to heal them in); damaged lines skipped."""
        return self._read()[0]

    def damaged(self) -> list[str]:
        """A message per line that is not a ledger record (``heal-ledger.jsonl line 7: damaged (...), skipped``)."""
        return self._read()[1]

    def unreadable(self) -> str | None:
        """Why the ledger cannot be read at all (a FIFO, a device, too large), or None: a missing one is empty."""
        try:
            self._bytes()
        except UsageError as error:
            return str(error)
        return None

    def _read(self) -> tuple[list[LedgerEntry], list[str]]:
        try:
            return parse_ledger(self._bytes())
        except UsageError as error:
            return [], [f"{LEDGER_FILE}: {one_line(str(error).removeprefix(f'{self.path}: '))}, skipped"]

    def _bytes(self) -> bytes:
        if not os.path.lexists(self.path):
            return b""
        return read_bytes(self.path, "heal ledger", UsageError, MAX_LEDGER_BYTES)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps({**record, "t": time.time()}) + "\n"
        with self._lock, open_append(self.path, readable=True) as file:
            if _cut_off(file):  # a crash left a partial line: end it, or this record would be glued to it
                line = "\n" + line
            file.write(line.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())


def parse_ledger(data: bytes) -> tuple[list[LedgerEntry], list[str]]:
    """The entries still pending in a ledger's bytes, most recent first, and a message per damaged line."""
    entries: dict[str, LedgerEntry] = {}
    problems = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            _apply(_parse(line.decode("utf-8")), entries)
        except (ValueError, RecursionError) as error:  # JSON and Unicode errors are ValueErrors
            cut = number == len(lines)  # no newline after it: the write was cut off
            problems.append(f"{LEDGER_FILE} line {number}: {'cut off by a crash' if cut else 'damaged'} "
                            f"({reason(error)}), skipped")
    return list(reversed(entries.values())), problems


_TYPES = {"id": str, "kind": str, "target": str, "params": dict, "cluster": str}


def _parse(line: str) -> dict[str, Any]:
    """One record, its fields checked; ``ValueError`` saying what is wrong."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    if record.get("op") not in ("pending", "healed"):
        raise ValueError(f"op is {one_line(repr(record.get('op')), 40)}, neither 'pending' nor 'healed'")
    required = ("id", "kind", "target") if record["op"] == "pending" else ("id",)
    for key in required:
        if key not in record:
            raise ValueError(f"no {key!r}")
    for key, kind in _TYPES.items():
        if key in record and not isinstance(record[key], kind):
            raise ValueError(f"{key!r} is not a {kind.__name__}: {one_line(repr(record[key]), 40)}")
    return record


def _apply(record: dict[str, Any], entries: dict[str, LedgerEntry]) -> None:
    """Add a pending entry (the most recent, even if its id was seen before), or drop the one a healed record names."""
    entries.pop(record["id"], None)
    if record["op"] == "pending":
        entries[record["id"]] = LedgerEntry(**{key: record[key] for key in _TYPES if key in record})


def _cut_off(file) -> bool:
    """Whether a binary file open for appending ends in the middle of a line."""
    if file.seek(0, os.SEEK_END) == 0:
        return False
    file.seek(-1, os.SEEK_END)
    return file.read(1) != b"\n"

