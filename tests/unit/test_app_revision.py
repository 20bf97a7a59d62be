"""An app's revision: the profile and the files it names, as a digest that changes with any of them."""

from __future__ import annotations

import os
import shutil

from harness.app import DEFAULT_PROFILE, load_profile
from harness.app.revision import revision


def demo_copy(tmp_path):
    shutil.copytree(DEFAULT_PROFILE.parent, tmp_path / "demo")
    return tmp_path / "demo" / DEFAULT_PROFILE.name


def test_the_revision_is_the_same_for_the_same_files_and_changes_with_a_manifest_or_the_profile(tmp_path):
    profile = demo_copy(tmp_path)
    first = load_profile(profile).revision
    assert len(first) == 12 and first == load_profile(profile).revision
    assert first == load_profile(demo_copy(tmp_path / "elsewhere")).revision  # where the files are does not count
    manifest = next(path for path in sorted((profile.parent / "demo" / "kubernetes").iterdir()))
    manifest.write_text(manifest.read_text() + "\n# a comment\n")
    second = load_profile(profile).revision
    profile.write_text(profile.read_text() + "\n# a comment\n")
    assert len({first, second, load_profile(profile).revision}) == 3


def test_a_fifo_or_a_link_under_a_named_directory_counts_by_its_name_and_nothing_blocks(tmp_path):
    (tmp_path / "profile.yaml").write_text("name: x\n")
    (tmp_path / "k8s").mkdir()
    before = revision(tmp_path / "profile.yaml", ["k8s"])
    os.mkfifo(tmp_path / "k8s" / "pipe")
    (tmp_path / "k8s" / "outside").symlink_to("/")
    assert revision(tmp_path / "profile.yaml", ["k8s"]) not in (before, "")


def test_each_form_keeps_its_own_notes_and_the_warnings_name_their_file():
    profile = load_profile(DEFAULT_PROFILE)
    assert set(profile.notes) == set(profile.forms)
    assert {warning.split(": ")[0] for warning in profile.warnings} == {"demo/compose.yml", "demo/kubernetes"}
