"""Any input file gives a valid model or a short ScenarioError/ProfileError (exit 2), quickly: never a traceback.

The fuzz tests run ``CHAOS_FUZZ_EXAMPLES`` examples each (default 200) and
print what they saw (run with ``-s`` to read it): examples tried, valid
inputs, clean errors. Any other exception fails the test, so tracebacks are 0.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.app import load_profile
from harness.cli import main
from harness.errors import HarnessError, ProfileError, ScenarioError
from harness.models import MAX_PROBLEMS, parse_duration
from harness.safe_yaml import MAX_DEPTH, MAX_FILE_BYTES
from harness import shipped
from harness.scenario import load_scenario
from tests.unit.mutations import mutated

ROOT = Path(__file__).parents[2]
SCENARIOS = [p.read_bytes() for p in sorted(shipped.SCENARIOS.glob("*.yaml"))]
DEMO = shipped.DEMO_PROFILE.read_bytes()
MAX_MESSAGE = 10_000  # bytes: every error message is at most this long, whatever the input
MAX_SECONDS = 10.0  # per input file, generous against a busy machine: the worst 256 KiB inputs take about 0.5 s
EXAMPLES = int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=MAX_SECONDS * 1000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def billion_laughs() -> bytes:
    """Nine levels of nine aliases each: 412 bytes that stand for 9^9 strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{new}: &{new} [{', '.join([f'*{old}'] * 9)}]" for old, new in zip("abcdefgh", "bcdefghi")]
    return ("\n".join(lines) + "\nname: *i\n").encode()


def profile_dir(tmp_path: Path) -> Path:
    """``tmp_path`` with the demo app's files beside where a profile is written (its compose file is relative)."""
    shutil.copytree(shipped.APPS / "demo", tmp_path / "demo", dirs_exist_ok=True)
    return tmp_path


Loader = Callable[[Path], object]
LOADERS: dict[str, tuple[Loader, type[HarnessError]]] = {"scenario": (load_scenario, ScenarioError),
                                                         "profile": (load_profile, ProfileError)}


def refusal(path: Path, what: str = "scenario") -> str:
    """The message of the error loading ``path`` as ``what``: the right type, exit 2, naming the file, short."""
    load, error = LOADERS[what]
    with pytest.raises(error) as caught:
        load(path)
    message = str(caught.value)
    assert caught.value.exit_code == 2 and str(path) in message and len(message) < MAX_MESSAGE
    return message


def written(tmp_path: Path, data: bytes | str, name: str = "input.yaml") -> Path:
    path = profile_dir(tmp_path) / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("what", LOADERS)
def test_an_alias_bomb_is_refused_at_once_with_a_short_message(tmp_path, what):
    path = written(tmp_path, billion_laughs())
    assert len(path.read_bytes()) < 500
    started = time.monotonic()
    message = refusal(path, what)
    assert time.monotonic() - started < 5  # generous: it took 107 s (and 7.5 GB) before; about 2 ms now
    assert "more than 10,000 values once aliases are expanded" in message and len(message) < 300


def test_anchors_and_merge_keys_used_a_few_times_still_work(tmp_path):
    text = ("name: x\nfaults:\n  - {kind: node-halt, target: &worker {role: worker}, at: &early {phase: upgrade}}\n"
            "  - {kind: task-kill, target: *worker, at: {<<: *early, offset: 3s}}\n")
    scenario = load_scenario(written(tmp_path, text))
    assert [f.target.role for f in scenario.faults] == ["worker", "worker"]
    assert scenario.faults[1].at.offset == 3.0


def test_a_cycle_through_an_alias_is_refused(tmp_path):
    message = refusal(written(tmp_path, "name: x\nfaults: &loop [*loop]\n"))
    assert "line 2, key faults.0" in message and "alias *loop refers to a value that contains it" in message


def test_more_than_a_hundred_aliases_are_refused(tmp_path):
    message = refusal(written(tmp_path, "name: &n x\ndescription: [" + ", ".join(["*n"] * 101) + "]\n"))
    assert "key description.100" in message and "more than 100 aliases" in message


@pytest.mark.parametrize("what", LOADERS)
def test_a_file_that_is_not_utf8_names_the_line_and_the_byte(tmp_path, what):
    message = refusal(written(tmp_path, "name: demo\ndescription: caf\xe9\n".encode("latin-1")), what)
    assert "line 2: byte 0xe9 is not UTF-8" in message


@pytest.mark.parametrize("what", LOADERS)
def test_ten_thousand_nested_brackets_are_refused_at_the_depth_limit(tmp_path, what):
    message = refusal(written(tmp_path, "name: x\nstateful: " + "[" * 10_000 + "]" * 10_000 + "\n"), what)
    assert "key stateful.0.0" in message and f"nested deeper than {MAX_DEPTH} levels" in message


def test_nesting_through_aliases_counts_the_expanded_depth(tmp_path):
    deep = "[" * 40 + "1" + "]" * 40
    message = refusal(written(tmp_path, f"name: x\ndescription: &d {deep}\nfaults: [{deep.replace('1', '*d')}]\n"))
    assert "key faults.0" in message and "nested deeper than 64 levels once aliases are expanded" in message


@pytest.mark.parametrize("digits", [31, 4_300, 5_000])
def test_an_integer_of_thousands_of_digits_is_refused_before_python_converts_it(tmp_path, digits):
    message = refusal(written(tmp_path, "name: x\nstack:\n  replicas: " + "9" * digits + "\n"))
    assert "line 3, key stack.replicas: an integer of more than 30 digits" in message


def test_a_huge_integer_in_a_profile_is_refused_with_its_key(tmp_path):
    text = DEMO.decode().replace("port: 8080", "port: " + "1" * 4_301)
    assert "key entry.port: an integer of more than 30 digits" in refusal(written(tmp_path, text), "profile")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    messages: list[str] = []
    reader = threading.Thread(target=lambda: messages.append(refusal(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert "must be a regular file, not a named pipe (FIFO)" in messages[0]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
@pytest.mark.parametrize("what", LOADERS)
def test_dev_zero_is_refused(what):
    assert "must be a regular file, not a character device" in refusal(Path("/dev/zero"), what)


@pytest.mark.parametrize("what", LOADERS)
def test_a_directory_is_refused(tmp_path, what):
    assert f"the {'app profile' if what == 'profile' else what} must be a regular file, not a directory" \
        in refusal(tmp_path, what)


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    message = refusal(written(tmp_path, b"name: x\n" + b"#" * MAX_FILE_BYTES))
    assert "larger than 256 KiB" in message


def test_a_file_at_the_size_limit_is_read(tmp_path):
    text = b"name: x\nexpect: {max_downtime: 1s}\n"
    assert load_scenario(written(tmp_path, text + b"#" * (MAX_FILE_BYTES - len(text)))).name == "x"


def test_a_duplicate_top_level_key_names_the_key_and_both_lines(tmp_path):
    message = refusal(written(tmp_path, "name: x\nfaults:\n  - kind: node-halt\nfaults: []\n"))
    assert "line 4, key faults: duplicate key 'faults' (first at line 2)" in message


def test_a_duplicate_nested_key_names_its_key_path_and_both_lines(tmp_path):
    message = refusal(written(tmp_path, "name: x\nstack:\n  replicas: 2\n  to: v2\n  replicas: 5\n"))
    assert "line 5, key stack.replicas: duplicate key 'replicas' (first at line 3)" in message


def test_a_duplicate_key_in_a_profile_is_refused(tmp_path):
    text = DEMO.decode().replace("  service: web\n", "  service: web\n  service: db\n")
    assert "key entry.service: duplicate key 'service'" in refusal(written(tmp_path, text, "demo.yaml"), "profile")


def test_a_merge_key_may_be_overridden_without_counting_as_a_duplicate(tmp_path):
    text = "name: x\nload: {<<: {rate: 5, timeout: 2s}, rate: 7}\nexpect: {max_downtime: 1s}\n"
    assert load_scenario(written(tmp_path, text)).load.rate == 7


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e10s", "1e400", "25h", "-5", "-1s", "'9999999999999h'"])
def test_a_duration_must_be_finite_non_negative_and_at_most_a_day(tmp_path, value):
    message = refusal(written(tmp_path, f"name: x\nstrategy: {{timeout: {value}}}\n"))
    assert "strategy.timeout" in message and "a duration such as 5s, 500ms or 2m, at most 24h" in message


@pytest.mark.parametrize("value, seconds", [("24h", 86_400.0), ("0s", 0.0), (86_400, 86_400.0), ("1.5 m", 90.0)])
def test_a_duration_up_to_a_day_is_accepted(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1, 10**400, "1" * 5_000 + "s", " " * 10_000 + "x"],
                         ids=["inf", "nan", "negative", "10**400", "5000 digits", "10000 spaces"])
def test_parse_duration_refuses_with_what_is_allowed(value):
    with pytest.raises(ValueError, match="at most 24h"):
        parse_duration(value)


@pytest.mark.parametrize("key, value", [("load", "{rate: .nan}"), ("expect", "{min_availability: .nan}")])
def test_other_numbers_refuse_infinity_and_nan(tmp_path, key, value):
    message = refusal(written(tmp_path, f"name: x\n{key}: {value}\n"))
    assert key in message and "finite number" in message


def test_a_profile_rate_refuses_nan(tmp_path):
    text = DEMO.decode().replace("load:\n", "load:\n  rate: .nan\n")
    assert "load.rate: got nan" in refusal(written(tmp_path, text, "demo.yaml"), "profile")


@pytest.mark.parametrize("value, why", [("2023-02-30", "not a valid timestamp '2023-02-30'"),
                                        ("!!int ''", "not a valid int ''"), ("!!bool maybe", "not a valid bool")])
def test_values_pyyaml_cannot_convert_are_named_by_line(tmp_path, value, why):
    assert f"line 2: {why}" in refusal(written(tmp_path, f"name: x\ndescription: {value}\n"))


def test_messages_stay_short_however_many_and_however_long_the_problems(tmp_path):
    long = "x" * 1_000
    faults = "".join(f"  - {{kind: node-halt, {long}{i}: {long}}}\n" for i in range(50))
    message = refusal(written(tmp_path, f"name: {long.upper()}\nfaults:\n{faults}"))
    assert "(51 problems)" in message and "and 31 more" in message
    assert len(message.splitlines()) == 1 + MAX_PROBLEMS + 1 and len(message) < 5_000
    assert "got 'XXXXX" in message and "…" in message


def test_a_document_that_is_no_mapping_is_quoted_shortly(tmp_path):
    message = refusal(written(tmp_path, "[" + ", ".join(["y" * 1000] * 100) + "]\n"))
    assert "a scenario is a mapping of keys, got ['yyy" in message and len(message) < 300


def test_validate_exits_2_without_a_traceback_on_an_alias_bomb(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(written(tmp_path, billion_laughs()))])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "alias" in result.output and len(result.output) < 1_000


# --- fuzzing -----------------------------------------------------------------------------------------------

KEYS = ["name", "description", "stack", "from", "to", "replicas", "strategy", "kind", "update_config", "delay",
        "monitor", "timeout", "rollback_after", "load", "rate", "write_ratio", "phases", "warmup", "observe",
        "verify_window", "faults", "target", "role", "node", "label", "at", "phase", "offset", "tasks_replaced",
        "duration", "params", "expect", "max_downtime", "min_availability", "upgrade_outcome", "compose",
        "releases", "entry", "service", "port", "health", "requests", "writes", "write", "read", "stateful"]
FRAGMENTS = (KEYS + [f"{k}: " for k in KEYS] + [
    "\n", "\n  ", "\n    ", "  ", "\t", ": ", ", ", "- ", "? ", "[", "]", "{", "}", "'", '"', "#", "&a ", "&b ", "*a",
    "*b", "<<: *a", "---\n", "...\n", "%YAML 1.1\n", "!!int ", "!!float ", "!!timestamp ", "!!binary ", "!!set ",
    "!!omap ", "!!str ", "!!python/object:os.system ", "!custom ", ".inf", "-.inf", ".nan", "1e400", "1e10s", "5s",
    "500ms", "2m", "24h", "-1", "0", "0.5", "1:30", "0x1F", "0o17", "9" * 40, "2023-02-30", "null", "~", "true",
    "no", "node-halt", "task-kill", "upgrade", "worker", "old", "new", "v1", "é", "\u2028", "\ufeff", "\x00", "\\"])
FRAGMENT = st.sampled_from(FRAGMENTS)
YAMLISH = st.lists(FRAGMENT, max_size=80).map("".join).map(str.encode)
RANDOM_BYTES = st.binary(max_size=2048) | st.text(max_size=512).map(str.encode)


def outcome(path: Path, what: str) -> str:
    """``valid`` or ``refused`` (a short error of the right type, in time); any other exception propagates."""
    started = time.monotonic()
    try:
        LOADERS[what][0](path)
        result = "valid"
    except (ScenarioError, ProfileError) as error:
        assert isinstance(error, LOADERS[what][1]) and error.exit_code == 2
        assert len(str(error)) < MAX_MESSAGE and str(path) in str(error)
        result = "refused"
    assert time.monotonic() - started < MAX_SECONDS
    return result


def fuzz(directory: Path, inputs: st.SearchStrategy[bytes], whats: tuple[str, ...], label: str) -> None:
    """Load every example as each of ``whats``; print the tally (a failing example shows its traceback)."""
    tally: Counter[str] = Counter()
    started = time.monotonic()

    @FUZZ
    @given(inputs)
    def check(data: bytes) -> None:
        for what in whats:
            path = directory / ("demo.yaml" if what == "profile" else "input.yaml")
            path.write_bytes(data)
            tally[outcome(path, what)] += 1
            tally["tried"] += 1

    check()
    print(f"\nfuzz {label}: {tally['tried']} loads, {tally['valid']} valid, {tally['refused']} clean errors, "
          f"0 tracebacks, {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return profile_dir(tmp_path_factory.mktemp("fuzz"))


def test_fuzz_random_bytes(fuzz_dir):
    fuzz(fuzz_dir, RANDOM_BYTES, ("scenario", "profile"), "random bytes")


def test_fuzz_yaml_fragments(fuzz_dir):
    fuzz(fuzz_dir, YAMLISH, ("scenario", "profile"), "YAML fragments")


def test_fuzz_mutated_scenarios(fuzz_dir):
    fuzz(fuzz_dir, mutated(SCENARIOS, FRAGMENT), ("scenario",), "mutated scenarios")


def test_fuzz_mutated_demo_profile(fuzz_dir):
    fuzz(fuzz_dir, mutated([DEMO], FRAGMENT), ("profile",), "mutated demo profile")


MANIFESTS = [p.read_bytes() for p in sorted((shipped.APPS / "demo" / "kubernetes").glob("*.yaml"))]
MANIFEST_FRAGMENTS = st.sampled_from(FRAGMENTS + [
    "apiVersion: ", "kind: ", "metadata: ", "spec: ", "template: ", "containers: ", "initContainers: ", "image: ",
    "labels: ", "volumes: ", "persistentVolumeClaim: ", "volumeClaimTemplates: ", "namespace: ", "ports: ",
    "containerPort: ", "readinessProbe: ", "Deployment", "StatefulSet", "CronJob", "ClusterRole", "List", "items: ",
    "Namespace", "HorizontalPodAutoscaler", "web", "db"])


def test_fuzz_mutated_demo_manifests(tmp_path_factory):
    """The demo's Kubernetes manifests, damaged: the profile loads, or a ProfileError names it; never a traceback."""
    directory = profile_dir(tmp_path_factory.mktemp("manifests"))
    (directory / "demo.yaml").write_bytes(DEMO)
    tally: Counter[str] = Counter()

    @FUZZ
    @given(mutated(MANIFESTS, MANIFEST_FRAGMENTS), st.sampled_from(["web.yaml", "db.yaml"]))
    def check(data: bytes, name: str) -> None:
        for source, original in zip(sorted((directory / "demo" / "kubernetes").glob("*.yaml")), MANIFESTS):
            source.write_bytes(data if source.name == name else original)
        tally[outcome(directory / "demo.yaml", "profile")] += 1

    check()
    print(f"\nfuzz mutated demo manifests: {sum(tally.values())} loads, {tally['valid']} valid, {tally['refused']} "
          "clean errors, 0 tracebacks")


def test_the_fuzz_sources_are_valid_as_shipped(fuzz_dir):
    (fuzz_dir / "demo.yaml").write_bytes(DEMO)
    assert outcome(fuzz_dir / "demo.yaml", "profile") == "valid"


# --- values that are valid alone but mean nothing ----------------------------------------------------------

EXPECT = "expect: {max_downtime: 5s}\n"
PORT_CONFLICT = "stack: {publish_on_upgrade: 8081}\nfaults:\n  - kind: port-conflict\n    params: {port: %s}\n"


@pytest.mark.parametrize("text, said", [
    ("load: {rate: 1e-09}\n" + EXPECT, "load.rate: got '1e-09': Input should be greater than or equal to 1"),
    ("load: {timeout: 1ms}\n" + EXPECT, "load.timeout: got 0.001: Input should be greater than or equal to 0.05"),
    ("strategy: {timeout: 1ms}\n" + EXPECT, "strategy.timeout: got 0.001: Input should be greater than or equal to 10"),
    ("stack: {from: broken}\n" + EXPECT, "stack.from: got 'broken': Value error, the broken release is made from the "
                                         "new one"),
    ("stack: {from: v2, to: v2}\n" + EXPECT, "stack: got {'from': 'v2', 'to': 'v2'}: Value error, from and to are "
                                             "both 'v2': nothing would be upgraded"),
    ("description: only a name\n", "expect: got None: the scenario injects no fault and states no expectation"),
    (PORT_CONFLICT % 22, "faults.0.params.port: got 22: Input should be greater than or equal to 1024"),
    (PORT_CONFLICT % 2377, "faults.0.params.port: got 2377: Value error, 2377 is Swarm's cluster management"),
    (PORT_CONFLICT % 7946, "faults.0.params.port: got 7946: Value error, 7946 is Swarm's node gossip"),
    (PORT_CONFLICT % 9999, "faults.0.params.port: got 9999: Value error, 9999 is the load balancer's admin port"),
    (PORT_CONFLICT % 10250, "faults.0.params.port: got 10250: Value error, 10250 is the kubelet's API"),
    (PORT_CONFLICT % 8082, "faults.0.params.port: got 8082: the upgrade publishes 8081 (stack.publish_on_upgrade), "
                           "so squatting 8082 conflicts with nothing"),
    ("faults:\n  - kind: partition\n    params: {peers: [node1, node3, node1]}\n",
     "faults.0.params.peers: got ['node1', 'node3', 'node1']: Value error, node1 named more than once"),
    ("faults:\n  - kind: packet-loss\n    params: {probability: 1e-9}\n",
     "faults.0.params.probability: got '1e-9': Input should be greater than or equal to 0.0001"),
    ("faults:\n  - kind: node-halt\n    params: {rejoin_timeout: 1ms}\n",
     "faults.0.params.rejoin_timeout: got 0.001: Input should be greater than or equal to 1"),
], ids=["rate", "client-timeout", "upgrade-timeout", "from-broken", "from-is-to", "only-a-name", "port-22",
        "port-2377", "port-7946", "port-lb", "port-kubelet", "port-unpublished", "peers-twice", "loss-share", "heal-wait"])
def test_a_value_that_means_nothing_is_refused_saying_what_would(tmp_path, text, said):
    assert said in refusal(written(tmp_path, "name: x\n" + text))


def test_the_meaningful_neighbours_of_those_values_are_accepted(tmp_path):
    text = ("name: x\nload: {rate: 1, timeout: 50ms}\nstrategy: {timeout: 10s}\nstack: {from: old, to: broken, "
            "publish_on_upgrade: 8081}\nfaults:\n  - kind: port-conflict\n    params: {port: 8081}\n"
            "  - kind: partition\n    params: {peers: [node1, node3]}\n")
    scenario = load_scenario(written(tmp_path, text))
    assert scenario.load.rate == 1 and scenario.stack.to_release == "broken" and len(scenario.faults) == 2


def test_validate_without_app_checks_releases_against_the_default_profile(tmp_path):
    path = written(tmp_path, "name: x\nstack: {to: v9}\n" + EXPECT)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "asks for release 'v9'; this profile has v1, v2" in " ".join(result.output.split())
    assert CliRunner().invoke(main, ["validate", str(written(tmp_path, "name: x\n" + EXPECT))]).exit_code == 0
