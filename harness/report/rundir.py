"""A run directory read back for its report, every damage named by file and line; many of them for a comparison.

Damaged lines are handled by ``harness.jsonl``: a last line cut off by a
crash is skipped with a note, any other damage makes the directory unusable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.analysis import analyze, attributed_samples, connections_of, write_reads
from harness.analysis.writes import Read
from harness.analysis.samples import Sample
from harness.compare import machine_of, run_key
from harness.errors import HarnessError, UsageError, reason
from harness.journal import JOURNAL_FILE, Event, read_journal
from harness.reportfile import REPORT_FILE, read_report, report_problem
from harness.runfiles import SAMPLES_FILE


@dataclass(frozen=True)
class RunFiles:
    """One run directory's journal events, its load samples (attributed as they were read: one copy in
    memory), and notes on the lines skipped."""

    run_dir: Path
    events: list[Event]
    samples: list[Sample]
    notes: list[str]
    reads: tuple[list[Read], list[Read]] = ([], [])  # of acknowledged writes: at the end, during the run

    def analysed(self) -> dict:
        """The report document, analysed afresh; ``UsageError`` when the journal does not describe a run."""
        with _unusable_unless_analysable(self.run_dir):
            document = analyze(self.events, self.samples, *self.reads, connections=connections_of(self.run_dir))
        if (problem := report_problem(document)) is not None:  # what the journal lacks that reports need
            raise _unusable(self.run_dir, problem)
        return document


def load_reports(run_dirs: Iterable[Path]) -> list[dict]:
    """Each run directory's report (analysed afresh when it has a journal but no report).

    ``UsageError`` names the directory or file that is unusable and why, and the two directories that hold the
    same run (its id, machine and start): it would count twice. Runs of one id from different machines (run
    directories copied from several CI runners) are different runs.
    """
    seen: dict[tuple, Path] = {}
    reports = []
    for run_dir in run_dirs:
        reports.append(report := _report(run_dir))
        if (first := seen.setdefault(run_key(report), run_dir)) != run_dir:
            raise UsageError(f"{first} and {run_dir} hold the same run ({report['run_id']} on machine "
                             f"{machine_of(report)}): give each run once")
    return reports


def _report(run_dir: Path) -> dict:
    if (run_dir / REPORT_FILE).is_file():
        return read_report(run_dir)
    if (run_dir / JOURNAL_FILE).is_file():
        return read_run(run_dir).analysed()
    raise UsageError(f"{run_dir} is not a run directory: it has neither {REPORT_FILE} nor {JOURNAL_FILE}")


def read_run(run_dir: Path) -> RunFiles:
    """The journal and samples of ``run_dir``; ``UsageError`` naming the file (and line) that is unusable."""
    journal = run_dir / JOURNAL_FILE
    if not journal.is_file():
        raise UsageError(f"{run_dir} is not a run directory: it has no {JOURNAL_FILE} "
                         "(`chaos-harness run` writes one into each run directory under --reports)")
    notes: list[str] = []
    events = read_journal(journal, notes)
    with _unusable_unless_analysable(run_dir):
        samples = attributed_samples(run_dir / SAMPLES_FILE, events, notes)
    return RunFiles(run_dir, events, samples, notes, write_reads(run_dir))


@contextmanager
def _unusable_unless_analysable(run_dir: Path) -> Iterator[None]:
    """A journal the analysis cannot make sense of becomes a ``UsageError`` naming it."""
    try:
        yield
    except HarnessError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise _unusable(run_dir, reason(error)) from error


def _unusable(run_dir: Path, why: str) -> UsageError:
    return UsageError(f"{run_dir / JOURNAL_FILE} does not describe a run this harness can analyse ({why})")
