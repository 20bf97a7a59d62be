"""The documentation: its reference pages name every option, key and parameter the code has, and the site builds.

The expectations are read from the code here, independently of ``harness.docsgen``: the click command tree,
the pydantic models walked by their annotations, the fault entry points as pyproject.toml declares them.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin

import click
import pytest
from pydantic import BaseModel

from harness import docsgen
from harness.app.profile import AppProfile
from harness.cli import main
from harness.errors import HarnessError
from harness.scenario.model import Scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return docsgen.pages()


def sections(page: str) -> dict[str, str]:
    """A page's ``## `` sections by their heading line (without the ``## ``)."""
    parts = re.split(r"^## ", page, flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0]: part for part in parts}


def commands(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, child in command.commands.items():
            found += commands(child, f"{path} {name}")
    return found


def cli_missing(page: str) -> list[str]:
    """Every command without a section, and every option not in its command's section."""
    by_name = sections(page)
    missing = []
    for path, command in commands(main, "chaos-harness"):
        if path not in by_name:
            missing.append(path)
            continue
        missing += [f"{path} {opt}" for param in command.params if isinstance(param, click.Option) and not param.hidden
                    for opt in (*param.opts, *param.secondary_opts) if opt not in by_name[path]]
    return missing


def models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        args = args[:1]
    elif origin not in (list, dict, Union, types.UnionType):
        return []
    return [model for arg in args for model in models_in(arg)]


def model_keys(root: type[BaseModel]) -> dict[type[BaseModel], list[str]]:
    """Every model reachable from ``root`` with the keys a file may give it."""
    keys: dict[type[BaseModel], list[str]] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model in keys:
            continue
        keys[model] = [field.alias or name for name, field in model.model_fields.items()]
        todo += [child for field in model.model_fields.values() for child in models_in(field.annotation)]
    return keys


def schema_missing(page: str, root: type[BaseModel]) -> list[str]:
    """Every model without its section (``{ #name }``), and every key without its row in that section."""
    by_anchor = {re.search(r"\{ #(\w+) \}", heading).group(1): text for heading, text in sections(page).items()
                 if re.search(r"\{ #(\w+) \}", heading)}
    missing = []
    for model, keys in model_keys(root).items():
        section = by_anchor.get(model.__name__.lower())
        if section is None:
            missing.append(model.__name__)
            continue
        missing += [f"{model.__name__}.{key}" for key in keys if f"\n| `{key}` |" not in section]
    return missing


def declared_faults() -> dict[str, type]:
    """The fault plugins pyproject.toml declares, loaded from their modules."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["harness.faults"]
    plugins = {}
    for name, target in table.items():
        module, attribute = target.split(":")
        plugins[name] = getattr(importlib.import_module(module), attribute)
    return plugins


def faults_missing(page: str) -> list[str]:
    by_name = sections(page)
    missing = []
    for name, plugin in declared_faults().items():
        section = by_name.get(name)
        if section is None or plugin.description not in section:
            missing.append(name)
            continue
        missing += [f"{name}.{key}" for key in plugin.Params.model_fields if f"\n| `{key}` |" not in section]
    return missing


def test_every_command_and_option_is_on_the_cli_page(pages):
    assert cli_missing(pages["reference/cli.md"]) == []


def test_every_scenario_key_is_on_the_scenario_page(pages):
    assert schema_missing(pages["reference/scenario.md"], Scenario) == []


def test_every_profile_key_is_on_the_profile_page(pages):
    assert schema_missing(pages["reference/app-profile.md"], AppProfile) == []


def test_every_fault_of_pyproject_and_its_parameters_is_in_the_catalogue(pages):
    assert faults_missing(pages["reference/faults.md"]) == []


def test_every_error_and_its_exit_code_is_on_the_exit_codes_page(pages):
    page = pages["reference/exit-codes.md"]
    errors = [HarnessError, *_subclasses(HarnessError)]
    assert [e.__name__ for e in errors if f"`{e.__name__}`" not in page] == []
    assert [code for code in (0, 1, 2, 3, 4, 130, *(e.exit_code for e in errors)) if f"\n| {code} |" not in page] == []


def test_the_report_page_names_the_schema_and_every_field_compare_reads(pages):
    from harness.analysis import REPORT_SCHEMA
    from harness.reportfile import _FIELDS

    page = pages["reference/report-json.md"]
    assert REPORT_SCHEMA in page
    assert [field for field in _FIELDS if f"| `{field}` |" not in page] == []


def test_the_checks_fail_when_the_generator_leaves_something_out(pages, monkeypatch):
    """A key, an option or a parameter the pages lose is named: the checks above can fail."""
    scenario = pages["reference/scenario.md"].replace("\n| `replicas` |", "\n| `copies` |")
    assert schema_missing(scenario, Scenario) == ["Stack.replicas"]
    cli = pages["reference/cli.md"].replace("--max-duration", "--longest")
    assert cli_missing(cli) == ["chaos-harness sweep --max-duration"]
    faults = pages["reference/faults.md"].replace("\n| `rejoin_timeout` |", "\n| `rejoin` |")
    assert faults_missing(faults) == ["node-halt.rejoin_timeout"]
    monkeypatch.setattr(docsgen, "_field_row", lambda key, field: "| dropped |")
    assert "Stack.replicas" in schema_missing(docsgen.pages()["reference/scenario.md"], Scenario)


def test_the_report_page_refuses_a_field_the_analysis_writes_but_the_page_does_not_describe(monkeypatch):
    monkeypatch.delitem(docsgen.REPORT_FIELDS, "downtime")
    with pytest.raises(ValueError, match="downtime"):
        docsgen.report_page()


def test_no_page_shows_a_path_of_the_machine_it_was_built_on(pages):
    assert [path for path, text in pages.items() if str(ROOT) in text or "/tmp/" in text] == []


def _subclasses(base: type) -> list[type]:
    return [sub for child in base.__subclasses__() for sub in (child, *_subclasses(child))]


# -- the site -----------------------------------------------------------------------------------------------------

def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict``, never with ``-q``: MkDocs counts warnings for --strict from its log, which -q
    silences, so a quiet strict build passes with broken links."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_site_builds_with_warnings_as_errors_and_fetches_no_font(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    pages = list((tmp_path / "site").rglob("*.html"))
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
    assert [page for page in pages if "fonts.googleapis.com" in page.read_text()] == []


def test_the_site_build_fails_on_a_broken_link(tmp_path):
    """The build check can fail: a page linking to a page that does not exist stops a strict build."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "docs" / "index.md").write_text("# chaos-harness\n\nSee [nowhere](nowhere.md).\n")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 1
    assert "nowhere.md" in result.stderr
