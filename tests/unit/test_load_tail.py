"""Following the samples file while the load process writes it: totals and recent rate for the live line."""

import json

from harness.load.runner import SampleTail


def test_the_tail_counts_complete_lines_and_leaves_a_torn_one_for_later(tmp_path):
    path = tmp_path / "samples.jsonl"
    tail = SampleTail(path, window=2.0)
    assert tail.poll(now=100.0) == 0.0  # no file yet
    lines = [json.dumps({"t": 98 + i / 10, "end": 98.05 + i / 10, "ok": i % 5 != 0}) for i in range(20)]
    path.write_text("\n".join(lines) + "\n" + '{"t": 99.9, "end": 1')
    assert tail.poll(now=100.0) == 20 / 2.0
    assert (tail.total, tail.failed) == (20, 4)
    with path.open("a") as file:
        file.write('00.0, "ok": false}\n')
    assert tail.poll(now=101.0) == 11 / 2.0  # ends in [99, 101]: 10 old ones and the completed line
    assert (tail.total, tail.failed) == (21, 5)
