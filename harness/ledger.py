"""The heal ledger: before a fault is injected, how to heal it is written to disk.

``heal-ledger.jsonl`` in the run directory holds ``pending`` records (fault
kind, target, parameters) and ``healed`` records. Whatever is pending after a
crash is healed, last in first out, by ``chaos-harness heal``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEDGER_FILE = "heal-ledger.jsonl"


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
        """Entries not yet healed, most recent first (the order to heal them in)."""
        if not self.path.exists():
            return []
        entries: dict[str, LedgerEntry] = {}
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            op = record.pop("op")
            record.pop("t", None)
            if op == "pending":
                entries[record["id"]] = LedgerEntry(**record)
            else:
                entries.pop(record["id"], None)
        return list(reversed(entries.values()))

    def _append(self, record: dict[str, Any]) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps({**record, "t": time.time()}) + "\n")
            file.flush()
            os.fsync(file.fileno())

