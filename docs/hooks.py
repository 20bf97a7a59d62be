"""MkDocs hook: the reference pages generated from the code (``harness.docsgen``) join the site as it is built."""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from harness.docsgen import pages


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Every generated page added to the documentation files, so the navigation and links can name it."""
    for path, text in pages().items():
        files.append(File.generated(config, path, content=text))
    return files
