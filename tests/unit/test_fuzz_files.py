"""Hypothesis fuzz of everything the harness reads besides scenarios: compose files with their profiles
(``validate --app``), ``app init``, the files ``lint`` reads (compose files, Kubernetes manifests), run and sweep directories (``report``, ``compare``, ``heal``) and the values
of command-line options. Every input ends in an exit code a user can act on (never 4, the harness broke) within
``HANG_SECONDS``, and no file outside the directories the command was given is written.

Each test runs ``CHAOS_FUZZ_EXAMPLES`` examples (default 200) and prints its tally (run with ``-s``): inputs,
exit codes seen, hangs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.app import load_profile
from harness.app.compose_model import Service
from harness.cli import main
from harness.errors import HarnessError
from harness.ledger import HealLedger, LedgerEntry
from harness.shipped import APPS, SCENARIOS
from harness.testing import FakeCluster, make_run_dir
from tests.unit.mutations import mutated

ROOT = Path(__file__).parents[2]
EXAMPLES = int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200"))
HANG_SECONDS = 30.0  # per command, generous against a busy machine; each takes milliseconds
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
COMPOSE_SOURCES = [path.read_bytes() for path in (APPS / "demo" / "compose.yml", ROOT / "examples/guestbook/compose.yml",
                                                   ROOT / "examples/itemstore/compose.yml")]
SHIPPED_SWEEP = json.loads((ROOT / "docs" / "sweeps" / "halted-node" / "sweep.json").read_text())


class WouldStart(HarnessError):
    """Raised where a command would make its cluster: every option before it was accepted."""

    exit_code = 98


class Tally:
    """Inputs tried and exit codes seen by one fuzz test; a command that does not end in time is a hang."""

    def __init__(self, label: str) -> None:
        self.label, self.codes, self.inputs = label, Counter[int](), 0
        self.started = time.monotonic()

    def run(self, *args: str) -> tuple[int, str]:
        results = []
        thread = threading.Thread(target=lambda: results.append(CliRunner().invoke(main, list(args))), daemon=True)
        thread.start()
        thread.join(HANG_SECONDS)
        assert not thread.is_alive(), f"hang: `chaos-harness {' '.join(args)[:300]}` did not end in {HANG_SECONDS}s"
        result = results[0]
        assert result.exit_code != 4, f"`chaos-harness {' '.join(args)[:300]}` broke:\n{result.output}"
        assert len(result.output) < 50_000
        self.codes[result.exit_code] += 1
        return result.exit_code, result.output

    def print(self) -> None:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.codes.items()))
        print(f"\nfuzz {self.label}: {self.inputs} inputs, {sum(self.codes.values())} commands, exit codes "
              f"{{{codes}}}, exit 4: 0, hangs: 0, {time.monotonic() - self.started:.1f}s")


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """``$CHAOS_HOME`` of its own, no cluster ever made (``WouldStart``), no Docker engine asked for images."""
    monkeypatch.setenv("CHAOS_HOME", str(tmp_path_factory.mktemp("home")))
    for module in ("runs", "calibrate", "cluster", "app", "lint"):
        monkeypatch.setattr(f"harness.cli.{module}.Cluster", _would_start, raising=False)
    monkeypatch.setattr("harness.app.init.host_image_ports", lambda image: {8000} if "web" in image else None)


def _would_start(*args, **kwargs):
    raise WouldStart("every option was accepted; the command would now make its cluster")


# --- inputs ------------------------------------------------------------------------------------------------

TEXTS = ["", "web", "db", "x", "8080", "80:8080", "127.0.0.1:8080:80/tcp", "8000-8010", "99999", "global",
         "replicated", "dnsrr", "host", ".", "..", "/etc/passwd", "../outside", "a\x00b", "web.env", "5s", "1m30s",
         "5x", "shop/web:1", "postgres:15", "true", "null", "é", "x" * 300, "${VAR}", "CMD", "volume", "data:/data"]
COMPOSE_KEYS = sorted(Service.model_fields) + ["colour", "x-ext", "mode", "target", "published", "context",
                                                "dockerfile", "args", "path", "file", "external", "constraints"]
SCALARS = (st.none() | st.booleans() | st.integers(-5, 70_000) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(TEXTS))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(COMPOSE_KEYS) | st.sampled_from(TEXTS), inner, max_size=4),
                      max_leaves=12)
SERVICE = st.dictionaries(st.sampled_from(COMPOSE_KEYS), VALUES, max_size=6).map(
    lambda spec: {"image": "shop/web:1", **spec})
NAMES = st.sampled_from(["web", "db", "1", "a b", "x-y", "web.1", ""]) | st.integers(0, 3)
COMPOSE_DOCUMENTS = st.fixed_dictionaries(
    {"services": st.dictionaries(NAMES, SERVICE | VALUES, min_size=1, max_size=3).map(
        lambda services: {"web": {"image": "shop/web:1", "ports": [8080]}, **services})},
    optional={"version": VALUES, "volumes": VALUES, "networks": VALUES, "configs": VALUES, "secrets": VALUES,
              "x-any": VALUES, "colour": VALUES})


def _dumped(document: dict) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


YAML_FRAGMENTS = st.sampled_from(TEXTS + [": ", "\n  ", "- ", "[", "]", "{", "}", "'", "&a ", "*a"])


VALID_SERVICE = st.fixed_dictionaries({"image": st.sampled_from(["shop/web:1", "postgres:15", "x@sha256:00", "y:"])},
                                      optional={
    "ports": st.lists(st.sampled_from([80, 8080, "8080", "8080:8080", "127.0.0.1:8081:8080/tcp", "9000-9001:9000-9001",
                                       {"target": 8080, "published": 8081}, {"target": 80}]), max_size=3,
                      unique_by=repr),
    "expose": st.lists(st.sampled_from([80, "81", "82/udp", "7000-7001"]), max_size=2, unique=True),
    "build": st.sampled_from(["web", {"context": "web"}, {"context": "web", "args": ["A=1"]},
                              {"context": "app", "dockerfile": "Dockerfile.x", "args": {"A": "1", "B": 2}}]),
    "env_file": st.sampled_from(["web.env", ["web.env"], [{"path": "web.env"}]]),
    "environment": st.sampled_from([{"A": "1", "B": 2, "C": None}, ["A=1", "B"]]),
    "volumes": st.sampled_from([["data:/data"], [{"type": "tmpfs", "target": "/t"}], ["./x:/x"]]),
    "deploy": st.sampled_from([None, {"mode": "global"},
                               {"replicas": 2, "placement": {"constraints": ["node.role==worker"]}}]),
    "networks": st.sampled_from([["front"], {"front": None}, {"front": {"aliases": ["a"]}}]),
    "healthcheck": st.just({"test": ["CMD", "true"], "interval": "5s"}), "x-ext": VALUES,
    "depends_on": st.just(["db"])})
VALID_COMPOSE = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["web", "db", "cache", "1"]), VALID_SERVICE, max_size=3).map(
        lambda services: {"web": {"image": "shop/web:1"}, **services})},
    optional={"version": st.sampled_from(["3.8", "3", 3.9]), "networks": st.just({"front": None}),
              "volumes": st.just({"data": None}), "configs": st.just({"site": {"file": "web.env"}})})
COMPOSE_FILES = VALID_COMPOSE.map(_dumped) | COMPOSE_DOCUMENTS.map(_dumped) | mutated(COMPOSE_SOURCES, YAML_FRAGMENTS)


SHOP = (b"name: shop\ncompose: compose.yml\nreleases:\n  v1: {web: {image: 'shop/web:1', build: {context: web}}}\n"
        b"  v2: {web: {image: 'shop/web:2', build: {context: web}}}\n"
        b"entry: {service: web, port: 8080, health: {path: /health, check: {status: [200], contains: ok}}}\n"
        b"load:\n  rate: 20\n  requests:\n"
        b"    - {path: /, check: {status: [2xx], not_contains: error}}\n")


def stack_dir(root: Path, profile: bytes = SHOP) -> Path:
    """A fresh directory with ``profile`` (by default, naming compose.yml, entry web:8080) and the files compose
    files name."""
    directory = Path(tempfile.mkdtemp(dir=root))
    for name in ("web", "db", "app"):
        (directory / name).mkdir()
    (directory / "web" / "Dockerfile").write_text("FROM scratch\n")  # both releases' images can be built
    (directory / "web.env").write_text("A=1\n")
    (directory / "shop.yaml").write_bytes(profile)
    return directory


# --- compose files and profiles ----------------------------------------------------------------------------

def test_fuzz_compose_files_with_their_profile(tmp_path):
    """``validate --app`` on a compose file and its profile (as shipped here, or mutated too): exit 0 or 2, and a
    refusal names the profile."""
    tally = Tally("profiles with compose files (validate --app)")

    @FUZZ
    @given(COMPOSE_FILES, st.just(SHOP) | mutated([SHOP], YAML_FRAGMENTS))
    def check(compose: bytes, profile: bytes) -> None:
        directory = stack_dir(tmp_path, profile)
        (directory / "compose.yml").write_bytes(compose)
        tally.inputs += 1
        code, output = tally.run("validate", "--app", str(directory / "shop.yaml"))
        assert code in (0, 2), output
        if code == 2:
            assert "shop.yaml" in "".join(output.split())

    check()
    tally.print()


def test_fuzz_app_init(tmp_path):
    """``app init``: exit 0 with a profile that loads as written, or exit 2 having written nothing."""
    tally = Tally("app init")

    @FUZZ
    @given(COMPOSE_FILES)
    def check(compose: bytes) -> None:
        directory = stack_dir(tmp_path)
        (directory / "compose.yml").write_bytes(compose)
        tally.inputs += 1
        code, output = tally.run("app", "init", str(directory / "compose.yml"), "-o", str(directory / "new.yaml"))
        assert code in (0, 2), output
        if code == 0:
            load_profile(directory / "new.yaml")  # what init writes is a valid profile
        else:
            assert not (directory / "new.yaml").exists()

    check()
    tally.print()


MANIFEST_SOURCES = [path.read_bytes() for path in sorted((ROOT / "examples/demo-pdb/kubernetes").glob("*.yaml"))]
MANIFEST_FRAGMENTS = st.sampled_from(TEXTS + [": ", "\n  ", "- ", "---\n", "[", "{", "'", "&a ", "*a", "kind: Pod",
                                              "replicas: 0", "maxUnavailable: 100%", "readinessProbe: {}", "null"])
LINT_FORMATS = st.sampled_from(["text", "markdown", "json", "sarif"])


def test_fuzz_lint_of_compose_files(tmp_path):
    """``lint --engine swarm`` of a profile and its compose file: exit 0 or 1 (findings) or 2 (refused), and a
    refusal names the profile or the compose file."""
    tally = Tally("lint of compose files")

    @FUZZ
    @given(COMPOSE_FILES, LINT_FORMATS)
    def check(compose: bytes, output_format: str) -> None:
        directory = stack_dir(tmp_path)
        (directory / "compose.yml").write_bytes(compose)
        tally.inputs += 1
        code, output = tally.run("lint", str(directory / "shop.yaml"), "--engine", "swarm", "--format", output_format)
        assert code in (0, 1, 2), output
        if code == 2:
            assert "shop.yaml" in "".join(output.split()) or "compose.yml" in "".join(output.split()), output

    check()
    tally.print()


def test_fuzz_lint_of_kubernetes_manifests(tmp_path):
    """``lint --engine kubernetes`` of the demo with a budget (examples/demo-pdb) whose manifests are damaged: exit
    0, 1 or 2, a refusal naming the profile or a manifest file."""
    tally = Tally("lint of Kubernetes manifests")
    profile = ((ROOT / "examples/demo-pdb/demo-pdb.yaml").read_bytes().replace(b"../../harness/shipped/apps/demo/", b"")
               .replace(b"{manifests: kubernetes}", b"{manifests: k8s}"))

    @FUZZ
    @given(st.tuples(*(st.just(source) | mutated([source], MANIFEST_FRAGMENTS) for source in MANIFEST_SOURCES)),
           LINT_FORMATS)
    def check(manifests: tuple[bytes, ...], output_format: str) -> None:
        directory = stack_dir(tmp_path, profile)
        (directory / "compose.yml").write_bytes(COMPOSE_SOURCES[0])
        (directory / "k8s").mkdir()
        for number, manifest in enumerate(manifests):
            (directory / "k8s" / f"{number}.yaml").write_bytes(manifest)
        tally.inputs += 1
        code, output = tally.run("lint", str(directory / "shop.yaml"), "--engine", "kubernetes",
                                 "--format", output_format)
        assert code in (0, 1, 2), output
        if code == 2:
            flat = "".join(output.split())
            assert "shop.yaml" in flat or ".yaml" in flat, output

    check()
    tally.print()


# --- run and sweep directories -----------------------------------------------------------------------------

RUN_FILES = ["samples.jsonl", "journal.jsonl", "heal-ledger.jsonl", "report.json", "readback.jsonl",
             "rereads.jsonl", "summary.md", "report.html"]
TREATMENTS = ["keep", "keep", "mutate", "truncate", "fifo", "dev-zero", "outside-link", "dangling-link",
              "directory", "long-line", "delete", "empty"]


def changed(data: bytes, chance: random.Random) -> bytes:
    """``data`` with a few bytes changed (letters and digits mostly): still JSON lines, with other values."""
    data = bytearray(data)
    spots = [i for i, byte in enumerate(data) if chr(byte).isalnum()] or list(range(len(data)))
    for _ in range(chance.randint(1, 5) if data else 0):
        data[chance.choice(spots)] = ord(chance.choice("abcxyz0129{}[]\",\n\xff"))
    return bytes(data)


def treated(path: Path, treatment: str, outside: Path, chance: random.Random) -> None:
    """``path`` (which may exist) made what ``treatment`` says; ``chance`` for how a file is changed or cut."""
    original = path.read_bytes() if path.is_file() else b'{"t": 1}\n'
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    makers = {
        "keep": lambda: path.write_bytes(original),
        "mutate": lambda: path.write_bytes(changed(original, chance)),
        "truncate": lambda: path.write_bytes(original[:chance.randint(0, len(original))]),
        "fifo": lambda: os.mkfifo(path),
        "dev-zero": lambda: path.symlink_to("/dev/zero"),
        "outside-link": lambda: path.symlink_to(outside),
        "dangling-link": lambda: path.symlink_to(outside.parent / "nothing-here"),
        "directory": lambda: path.mkdir(),
        "long-line": lambda: path.write_bytes(b'{"t": "' + b"9" * (1024 * 1024 + 10)),
        "delete": lambda: None,
        "empty": lambda: path.write_bytes(b""),
    }
    makers[treatment]()


def outside_file(root: Path) -> Path:
    outside = root / "outside" / "keep.txt"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text("outside: never written")
    return outside


def test_fuzz_run_directories(tmp_path, monkeypatch):
    """``report``, ``compare`` and ``heal`` on a run directory whose files were changed, cut, replaced by FIFOs,
    links (to /dev/zero, outside, nowhere) or directories: exit 0 to 3, never 4, and nothing outside written."""
    fake = FakeCluster()
    monkeypatch.setattr("harness.cli.repair.Cluster", lambda config, progress=None: fake)
    tally = Tally("run directories (report, compare, heal)")
    outside = outside_file(tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()

    @FUZZ
    @given(st.lists(st.sampled_from(TREATMENTS), min_size=len(RUN_FILES), max_size=len(RUN_FILES)),
           st.sampled_from(["report", "compare", "heal", "report-json"]), st.booleans(), st.integers(0, 2 ** 32))
    def check(treatments: list[str], command: str, reported: bool, seed: int) -> None:
        root = Path(tempfile.mkdtemp(dir=runs))
        run_dir = make_run_dir(root, "run", "in-service", outage=1.0)
        HealLedger(run_dir).record(LedgerEntry(id="0-node-halt", kind="node-halt", target="node2",
                                               params={"rejoin_timeout": 1}))
        if reported:
            assert CliRunner().invoke(main, ["--quiet", "report", str(run_dir)]).exit_code == 0  # its reports too
        chance = random.Random(seed)
        for name, treatment in zip(RUN_FILES, treatments):
            treated(run_dir / name, treatment, outside, chance)
        tally.inputs += 1
        args = {"report": ["report", str(run_dir)], "report-json": ["report", "--json", str(run_dir)],
                "compare": ["compare", str(run_dir), "--output", str(root / "cmp")],
                "heal": ["heal", "--reports", str(root)]}[command]
        code, output = tally.run("--quiet", *args)
        assert code in (0, 1, 2, 3), output
        assert outside.read_text() == "outside: never written"

    check()
    tally.print()


def _mutated_json(draw: st.DrawFn, document: object, depth: int = 0) -> object:
    """``document`` with some values swapped for others of any JSON kind, some keys dropped."""
    if isinstance(document, dict) and depth < 6:
        kept = {k: v for k, v in document.items() if draw(st.integers(0, 9)) > 0}
        return {k: _mutated_json(draw, v, depth + 1) for k, v in kept.items()}
    if isinstance(document, list) and depth < 6:
        return [_mutated_json(draw, item, depth + 1) for item in document]
    if draw(st.integers(0, 11)) == 0:
        return draw(st.none() | st.booleans() | st.integers(-2, 3) | st.floats() | st.sampled_from(
            ["", "x", "../../outside", "/etc", "in-service", "tasks_replaced=1", "chaos-harness/sweep@1"])
                    | st.just([]) | st.just({}))
    return document


def test_fuzz_sweep_directories(tmp_path):
    """``report`` and ``compare`` on a sweep directory whose sweep.json has values of other kinds and keys
    missing, and only some of its runs: exit 0 to 2, never 4."""
    tally = Tally("sweep directories (report, compare)")
    outside = outside_file(tmp_path)
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    names = [run["run_dir"] for strategy in SHIPPED_SWEEP["strategies"].values()
             for point in strategy["points"] for run in point["runs"]]

    @FUZZ
    @given(st.data(), st.sampled_from(["report", "compare"]))
    def check(data: st.DataObject, command: str) -> None:
        directory = Path(tempfile.mkdtemp(dir=sweeps))
        document = _mutated_json(data.draw, SHIPPED_SWEEP)
        chance = random.Random(data.draw(st.integers(0, 2 ** 32)))
        text = json.dumps(document) if data.draw(st.integers(0, 9)) else changed(
            json.dumps(SHIPPED_SWEEP).encode(), chance).decode("utf-8", "replace")
        (directory / "sweep.json").write_text(text)
        for name in data.draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
            make_run_dir(directory, name, "in-service", outage=1.0)
        tally.inputs += 1
        code, output = tally.run("--quiet", command, str(directory))
        assert code in (0, 1, 2), output
        assert outside.read_text() == "outside: never written"

    check()
    tally.print()


# --- command-line option values ----------------------------------------------------------------------------

OPTION_TEXTS = st.sampled_from(["", "0", "-1", "1", "3", "1e400", "nan", "inf", "-0", "99999999999999999999",
                                "5s", "90m", "25h", "-5s", "1ms", "in-service", "blue-green", "in-service,",
                                ",", "canary", "in-service,blue-green,canary", "tasks_replaced=0,1",
                                "tasks_replaced=", "phase=rollback", "step=green_ready,switched", "step=", "=",
                                "a=b=c", "x" * 5000, "../x", "/dev/zero", "/", ".", "nowhere/x", "chaos",
                                "Chaos", "é", "demo", "demo,", "apps/demo.yaml", "reports", "refusal", "swarm",
                                "kubernetes", "sarif", "json", "warning", "never", "swarm-failure-action-pause",
                                "warmup=5s", "observe=", "verify_window=2h", "settle=5s"]) \
    | st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)


@st.composite
def command_lines(draw: st.DrawFn, scratch: Path) -> list[str]:
    """A command and its options with values of any text (a shell cannot pass a NUL byte, so none has one)."""
    value = lambda: draw(OPTION_TEXTS)  # noqa: E731
    path = lambda: (str(scratch / draw(st.sampled_from(["a", "b/c", ""]))) if draw(st.booleans())  # noqa: E731
                    else value())
    scenario = draw(st.sampled_from(["halted-node", str(SCENARIOS / "clean-upgrade.yaml")]))
    commands = [
        ["validate", scenario, "--app", value()], ["validate", value()],
        ["run", scenario, "--strategy", value(), "--app", value(), "--reports", path()],
        ["matrix", scenario, "--strategies", value(), "--repeat", value(), "--apps", value(), "--reports", path()],
        ["sweep", scenario, "--strategies", value(), "--points", value(), "--at", value(), "--at", value(),
         "--repeat", value(), "--max-duration", value(), "--reports", path()],
        ["calibrate", "--rate", value(), "--duration", value(), "--kind", value(), "--repeat", value(),
         "--timeout", value(), "--reports", path()],
        ["report", path()], ["compare", path(), "--output", path()], ["heal", "--reports", path()],
        ["app", "init", path(), "-o", path()], ["app", "check", value()],
        ["cluster", "up"], ["faults", "list"],
        ["lint", "demo", "--engine", value(), "--rule", value(), "--format", value(), "--fail-on", value(),
         "-o", path(), "--prove", "--phase", value(), "--phase", value(), "--reports", path()],
    ]
    chosen = draw(st.sampled_from(commands))
    kept = [part for part in chosen if draw(st.integers(0, 5)) or not part.startswith("-")]
    globals_ = draw(st.lists(st.sampled_from(["--cluster", "--nodes", "--managers", "--provider", "--inventory"]),
                             max_size=2, unique=True))
    return [item for name in globals_ for item in (name, value())] + kept


def test_fuzz_command_line_option_values(tmp_path, monkeypatch):
    """Any option value: exit 0, 1 or 2 (refused, naming the option), or every option accepted and the command
    about to make its cluster (``WouldStart``); never 4, and nothing made outside ``$CHAOS_HOME`` and scratch."""
    monkeypatch.setattr("harness.cli.repair.Cluster", lambda config, progress=None: FakeCluster())
    monkeypatch.chdir(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "b").mkdir()
    tally = Tally("command-line option values")

    @FUZZ
    @given(command_lines(scratch))
    def check(argv: list[str]) -> None:
        tally.inputs += 1
        code, output = tally.run(*argv)
        assert code in (0, 1, 2, WouldStart.exit_code), output

    check()
    tally.print()
    assert set(p.name for p in tmp_path.iterdir()) <= {"scratch", "reports", "chaos-app.yaml"}
