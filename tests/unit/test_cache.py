"""The per-user cache: where it lives, an entry made once, and nothing left behind by a make that fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cache import cache_root, cached


@pytest.fixture(autouse=True)
def xdg_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_the_cache_is_in_xdg_cache_home_else_in_the_home_directory(xdg_cache, tmp_path, monkeypatch):
    assert cache_root() == xdg_cache / "chaos-harness"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec: a relative path is to be ignored
    assert cache_root() == tmp_path / "home" / ".cache" / "chaos-harness"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == tmp_path / "home" / ".cache" / "chaos-harness"


def test_an_entry_is_made_once_and_then_reused_by_every_caller(xdg_cache):
    made: list[Path] = []

    def make(directory: Path) -> None:
        made.append(directory)
        (directory / "tool").write_text("built")

    first = cached("go/tool@v1-x86_64", "tool", make)
    assert first == xdg_cache / "chaos-harness" / "go" / "tool@v1-x86_64" / "tool" and first.read_text() == "built"
    assert cached("go/tool@v1-x86_64", "tool", make) == first
    assert len(made) == 1
    cached("go/tool@v2-x86_64", "tool", make)  # another version is another entry
    assert len(made) == 2


def test_a_make_that_fails_leaves_nothing_and_the_next_call_makes_the_entry_again(xdg_cache):
    def failing(directory: Path) -> None:
        (directory / "tool").write_text("half")
        raise OSError("interrupted")

    with pytest.raises(OSError, match="interrupted"):
        cached("go/tool@v1-x86_64", "tool", failing)
    assert list((xdg_cache / "chaos-harness" / "go").iterdir()) == []
    assert cached("go/tool@v1-x86_64", "tool", lambda d: (d / "tool").write_text("whole")).read_text() == "whole"


def test_an_entry_whose_file_is_missing_is_made_again(xdg_cache):
    broken = xdg_cache / "chaos-harness" / "base" / "debian@x"
    broken.mkdir(parents=True)
    (broken / "leftover").write_text("")
    assert cached("base/debian@x", "rootfs.tar.gz", lambda d: (d / "rootfs.tar.gz").write_text("tar")).exists()
    assert sorted(p.name for p in broken.iterdir()) == ["rootfs.tar.gz"]


def test_a_make_that_writes_no_file_is_an_error_not_an_empty_entry(xdg_cache):
    with pytest.raises(FileNotFoundError, match="wrote no tool"):
        cached("go/tool@v1-x86_64", "tool", lambda directory: None)
    assert not (xdg_cache / "chaos-harness" / "go" / "tool@v1-x86_64").exists()
