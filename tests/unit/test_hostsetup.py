"""What the harness changes on a user's host for the registries, and how it undoes it (against a fake host)."""

from __future__ import annotations

import json

import pytest

from harness.cluster.hostsetup import (
    DAEMON_JSON, TRUSTED, backup_path, point_registry_names, trust_registries, undo,
)
from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError


class FakeHost:
    """Runs nothing: records each command and answers ``cat FILE`` from ``files`` (daemon.json: ``daemon_json``)."""

    def __init__(self, daemon_json: str | None = None, files: dict[str, str] | None = None) -> None:
        self.files = {DAEMON_JSON: daemon_json, **(files or {})}
        self.commands: list[tuple[list[str], bytes | None]] = []

    def __call__(self, argv: list[str], stdin: bytes | None) -> ExecResult:
        self.commands.append((argv, stdin))
        if argv[0] == "cat":
            text = self.files.get(argv[1])
            return ExecResult(0, text) if text is not None else ExecResult(1, "No such file")
        return ExecResult(0, "")

    def written(self) -> dict:
        [(_, stdin)] = [(argv, stdin) for argv, stdin in self.commands if stdin is not None]
        return json.loads(stdin)


def test_the_registry_names_point_at_this_machine_in_one_marked_line():
    host = FakeHost()
    point_registry_names(host, "staging", "10.0.0.1")
    [(argv, _)] = host.commands
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["hosts", "staging", "10.0.0.1", "registry", "registry-secure"]
    assert "# chaos-harness $1" in argv[2]  # values are arguments, never spliced into the script


def test_an_engine_that_trusts_the_registries_already_is_left_alone():
    host = FakeHost('{"log-level": "warn"}')
    assert trust_registries(host, "staging", set(TRUSTED) | {"docker.io"}) is False
    assert host.commands == []


def test_trust_merges_into_the_users_daemon_json_keeps_a_copy_and_reloads():
    host = FakeHost('{"log-level": "warn", "insecure-registries": ["mirror.local:5000"]}')
    assert trust_registries(host, "staging", set()) is True
    assert host.written() == {"log-level": "warn",
                              "insecure-registries": sorted(["mirror.local:5000", *TRUSTED])}
    scripts = [argv[2] for argv, _ in host.commands if argv[:2] == ["sh", "-c"]]
    assert any("cp -p" in script for script in scripts)  # the user's file kept, once
    assert scripts[-1] == "kill -HUP $(pidof dockerd)"


def test_trust_without_a_daemon_json_writes_one_and_keeps_no_copy():
    host = FakeHost(None)
    assert trust_registries(host, "staging", set()) is True
    assert host.written() == {"insecure-registries": sorted(TRUSTED)}
    assert not any("cp -p" in " ".join(argv) for argv, _ in host.commands)


@pytest.mark.parametrize("text, problem", [("{not json", "is not JSON"), ("[1, 2]", "is not a JSON object")])
def test_a_daemon_json_the_harness_cannot_read_is_left_as_it_is_with_the_reason(text, problem):
    host = FakeHost(text)
    with pytest.raises(ClusterError, match=problem):
        trust_registries(host, "staging", set())
    assert [argv for argv, _ in host.commands] == [["cat", DAEMON_JSON]]


def test_undo_removes_the_line_and_touches_the_engine_only_when_it_was_changed():
    untouched = FakeHost()
    undo(untouched, "staging", changed_engine=False)
    assert len(untouched.commands) == 1 and untouched.commands[0][0][3:5] == ["hosts", "staging"]


@pytest.mark.parametrize(("backup", "reloaded", "waited_for"), [
    (None, {"insecure-registries": []}, list(TRUSTED)),  # the harness made the file: nothing trusted after
    ('{"log-level": "warn"}', {"log-level": "warn", "insecure-registries": []}, list(TRUSTED)),
    ('{"insecure-registries": ["registry:5000"]}', {"insecure-registries": ["registry:5000"]}, ["registry-secure:5001"]),
])
def test_undo_reloads_the_original_settings_naming_insecure_registries_then_puts_the_file_back(
        backup, reloaded, waited_for):
    # A reload keeps what the file does not name: without "insecure-registries" the engine would go on trusting.
    host = FakeHost(files={backup_path("staging"): backup} if backup is not None else {})
    undo(host, "staging", changed_engine=True)
    assert host.written() == reloaded
    argv = host.commands[-1][0]
    assert argv[3:] == ["restore", backup_path("staging"), *waited_for]
    assert 'mv "$backup" /etc/docker/daemon.json; else rm -f /etc/docker/daemon.json' in argv[2]
