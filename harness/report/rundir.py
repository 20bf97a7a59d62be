"""A run directory read back for its report, every damage named by file and line.

Damaged lines are handled by ``harness.jsonl``: a last line cut off by a
crash is skipped with a note, any other damage makes the directory unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.analysis import analyze, attribute
from harness.analysis.samples import Sample, read_samples
from harness.compare import report_problem
from harness.errors import HarnessError, UsageError, reason
from harness.journal import JOURNAL_FILE, Event, read_journal
from harness.load.runner import SAMPLES_FILE


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
    events = read_journal(journal, notes)
    return RunFiles(run_dir, events, read_samples(run_dir / SAMPLES_FILE, notes), notes)
