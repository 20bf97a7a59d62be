"""The heal ledger reader against damage: whatever the file holds, it never raises and keeps every valid record.

Each fuzz test runs ``CHAOS_FUZZ_EXAMPLES`` examples (default 200; the one
writing files a quarter of that) and prints what it saw (run with ``-s``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.ledger import LEDGER_FILE, HealLedger, LedgerEntry, parse_ledger

EXAMPLES = int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=10_000, database=None,  # generous: a busy CI machine
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

IDS = st.sampled_from(["0-node-halt", "1-task-kill", "2-partition", "3-disk-full"])
PENDING = st.builds(lambda id, target, params: {"op": "pending", "id": id, "kind": id.split("-", 1)[1],
                                                 "target": target, "params": params, "cluster": "chaos", "t": 1.5},
                    IDS, st.sampled_from(["node1", "node2", "node3"]),
                    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=2))
HEALED = st.builds(lambda id: {"op": "healed", "id": id, "t": 2.5}, IDS)
RECORDS = st.lists(st.one_of(PENDING, HEALED), max_size=12)
# Lines that are never a record: not JSON (no JSON text starts with "}"), or JSON of the wrong shape.
GARBAGE = st.one_of(
    st.text(max_size=40).map(lambda text: "}" + text.replace("\n", " ")),
    st.binary(max_size=40).map(lambda data: b"}" + data.replace(b"\n", b" ")),
    st.sampled_from(['{"op": "pending", "id": "9"}', '{"op": "heal", "id": "0-node-halt"}', "[1]", '"text"',
                     '{"op": "pending", "id": 9, "kind": "k", "target": "t"}', "null", "[" * 5000, "9" * 5000]),
)


def expected_pending(records: list[dict]) -> list[LedgerEntry]:
    """The pending entries a correct reader returns for ``records``, most recent first."""
    entries: dict[str, LedgerEntry] = {}
    for record in records:
        entries.pop(record["id"], None)
        if record["op"] == "pending":
            entries[record["id"]] = LedgerEntry(**{k: v for k, v in record.items() if k not in ("op", "t")})
    return list(reversed(entries.values()))


def encoded(line: str | bytes) -> bytes:
    return line if isinstance(line, bytes) else line.encode("utf-8")


def run(strategy, check, label: str, examples: int = EXAMPLES) -> None:
    """Run ``check`` on every example of ``strategy``; print the tally (a failing example shows its traceback)."""
    tally: Counter[str] = Counter()
    started = time.monotonic()

    @settings(FUZZ, max_examples=examples)
    @given(strategy)
    def each(example) -> None:
        tally["examples"] += 1
        check(example, tally)

    each()
    print(f"\nfuzz {label}: {tally['examples']} ledgers, {tally['entries']} pending entries returned, "
          f"{tally['damaged']} damaged lines reported, 0 exceptions, {time.monotonic() - started:.1f}s")


def sound(data: bytes, tally: Counter) -> tuple[list[LedgerEntry], list[str]]:
    """Read ``data``: it must not raise, and must give entries and one-line messages naming a line of the file."""
    pending, damaged = parse_ledger(data)
    assert all(isinstance(e, LedgerEntry) and isinstance(e.id, str) and isinstance(e.params, dict) for e in pending)
    lines = data.count(b"\n") + 1
    for message in damaged:
        assert message.startswith(f"{LEDGER_FILE} line ") and "\n" not in message and len(message) < 400
        assert 1 <= int(message.split()[2].rstrip(":")) <= lines
    tally["entries"] += len(pending)
    tally["damaged"] += len(damaged)
    return pending, damaged


def test_fuzz_random_bytes():
    run(st.binary(max_size=4000), sound, "random bytes")


@st.composite
def damaged_ledgers(draw) -> tuple[bytes, list[dict], int, bool]:
    """Valid records with garbage lines among them and, sometimes, the last record cut off mid-line.

    Returns the bytes, the records that are whole, how many garbage lines and whether the last was cut.
    """
    records = draw(RECORDS)
    lines: list[bytes] = [json.dumps(r).encode() for r in records]
    garbage_at = sorted(draw(st.lists(st.integers(0, len(lines) - 1 if records else 0), max_size=4)), reverse=True)
    for index in garbage_at:  # before record ``index``: the last line stays a record
        lines.insert(index, encoded(draw(GARBAGE)))
    data = b"".join(line + b"\n" for line in lines)
    cut = bool(records) and draw(st.booleans())
    if cut:
        last = lines[-1]
        data = data[:len(data) - len(last) - 1] + last[:draw(st.integers(1, len(last) - 1))]
        records = records[:-1]
    return data, records, len(garbage_at), cut


def keeps_the_valid_records(example, tally: Counter) -> None:
    data, records, garbage, cut = example
    pending, damaged = sound(data, tally)
    assert pending == expected_pending(records)
    assert len(damaged) == garbage + cut
    if cut:
        assert "cut off by a crash" in damaged[-1]


def test_fuzz_valid_records_among_damaged_lines_are_all_kept():
    run(damaged_ledgers(), keeps_the_valid_records, "records among damaged lines")


@st.composite
def mutated_ledgers(draw) -> bytes:
    """A valid ledger with bytes flipped, deleted or inserted anywhere, and maybe cut short."""
    data = bytearray(b"".join(json.dumps(r).encode() + b"\n" for r in draw(RECORDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "insert" or not data:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            data[min(at, len(data) - 1)] ^= draw(st.integers(1, 255))
    return bytes(data[:draw(st.integers(0, len(data)))] if draw(st.booleans()) else data)


def test_fuzz_mutated_ledgers():
    run(mutated_ledgers(), sound, "mutated ledgers")


def test_fuzz_a_record_written_after_any_damage_is_read_back():
    """What heal and the runner append after a crash is never glued to a cut-off line."""
    new = LedgerEntry(id="appended-after-damage", kind="node-halt", target="node2")

    def appended(data: bytes, tally: Counter) -> None:
        with tempfile.TemporaryDirectory() as directory:
            ledger = HealLedger(Path(directory))
            ledger.path.write_bytes(data)
            ledger.record(new)
            pending = ledger.pending()
            assert pending[0] == new
            ledger.mark_healed(new.id)
            assert new not in ledger.pending()
            tally["entries"] += len(pending)
            tally["damaged"] += len(ledger.damaged())

    # a quarter of the examples: each appends twice to a real file, fsynced
    run(st.one_of(st.binary(max_size=400), mutated_ledgers()), appended, "appended after damage", EXAMPLES // 4)
