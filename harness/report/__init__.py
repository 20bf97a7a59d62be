"""Reports rendered from an analysed run (report.json and the journal), and from many runs.

Per run: report.json, report.html, junit.xml, summary.md.
Per comparison: compare.json, compare.html, compare.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.compare import Row, to_document
from harness.errors import UsageError
from harness.files import write_text
from harness.journal import JOURNAL_FILE, Event, read_journal
from harness.report.comparison import comparison_page
from harness.report.html import run_page
from harness.report.junit import run_junit
from harness.report.markdown import comparison_markdown, run_summary

RUN_FILES = ("report.json", "report.html", "junit.xml", "summary.md")
TIMED_FILES = ("report.json", "summary.md")  # the run files that show the harness's timings
COMPARE_FILES = ("compare.json", "compare.html", "compare.md")


def write_run_reports(run_dir: Path, report: dict, events: list[Event] | None = None,
                      names: tuple[str, ...] = RUN_FILES) -> list[Path]:
    """Write the per-run reports ``names`` (every one unless told) into ``run_dir``; their paths. ``events``:
    the run's journal, which report.html shows, read when not given."""
    renderers = {
        "report.json": lambda: json.dumps(report, indent=2),
        "report.html": lambda: run_page(report, read_journal(run_dir / JOURNAL_FILE) if events is None else events),
        "junit.xml": lambda: run_junit(report),
        "summary.md": lambda: run_summary(report),
    }
    return [write_file(run_dir / name, renderers[name]()) for name in names]


def write_comparison(directory: Path, rows: list[Row], run_dirs: list[Path]) -> list[Path]:
    """Write compare.json (with the run directories), compare.html and compare.md into ``directory``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{directory} cannot be made ({error.strerror or error})") from None
    document = {**to_document(rows), "run_dirs": [str(d) for d in run_dirs]}
    contents = (json.dumps(document, indent=2), comparison_page(rows), comparison_markdown(rows) + "\n")
    return [write_file(directory / name, text) for name, text in zip(COMPARE_FILES, contents)]


def write_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, never through a link (``harness.files.write_text``); UsageError naming the path
    when it cannot be written."""
    return write_text(path, text, UsageError)
