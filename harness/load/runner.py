"""Start and stop the Locust process; the harness never imports Locust itself."""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlparse

from harness.errors import HarnessError, UsageError
from harness.load import MAX_IN_FLIGHT
from harness.resources import package_path
from harness.runfiles import REREADS_FILE, SAMPLES_FILE

LOCUSTFILE = package_path("harness.load", "locustfile.py")
RECORDER = package_path("harness.load", "recorder.py")
PLAN_FILE = "load-plan.json"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_REQUEST = {"name": "read", "method": "GET", "path": "/", "weight": 1.0, "check": {"status": ["2xx"]}}


def in_flight_bound(rate: float, timeout: float) -> int:
    """Requests that can be in flight at ``rate`` when every one waits its whole time (connect plus answer);
    ``MAX_IN_FLIGHT`` bounds rate x timeout, so this stays within twice that."""
    return math.ceil(rate * timeout * 2) + 10


def users_for(rate: float, timeout: float, own_schedule: bool) -> int:
    """Locust users: the harness's one scheduling user, or for a locustfile of the user's own (a closed model,
    its users pace themselves) enough users that the rate holds while every request waits its whole time."""
    return 1 if own_schedule else in_flight_bound(rate, timeout)


class LoadProcess:
    """One Locust run: constant rate against ``host`` until stopped or ``max_seconds`` pass.

    ``load`` is the app profile's load (its requests, or a locustfile of the
    user's own) and ``writes`` its write probe, both as plain documents.
    """

    def __init__(self, host: str, run_dir: Path, rate: float, timeout: float, write_ratio: float,
                 max_seconds: float, load: dict, writes: dict | None = None,
                 locustfile: Path | None = None, own_hosts: Collection[str] = ()) -> None:
        allowed = LOOPBACK | set(own_hosts)
        if urlparse(host).hostname not in allowed:
            raise UsageError(f"load may target loopback or the cluster's own nodes only, not {host}")
        self.host = host
        self.samples_path = run_dir / SAMPLES_FILE
        self.plan_path = run_dir / PLAN_FILE
        self.log_path = run_dir / "locust.log"
        self.rate = rate
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.users = users_for(rate, timeout, own_schedule=locustfile is None)
        self._files = [RECORDER, locustfile] if locustfile else [LOCUSTFILE]
        self._plan = {
            "samples": str(self.samples_path), "rate": rate, "timeout": timeout, "own_hosts": sorted(allowed),
            "concurrency": in_flight_bound(rate, timeout),
            "requests": load.get("requests") or [DEFAULT_REQUEST],
            "writes": writes, "write_ratio": write_ratio if writes else 0.0,
            "rereads": str(run_dir / REREADS_FILE),
            "max_requests": math.ceil(rate * max_seconds * 1.2) + 100,
        }
        self._process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Spawn Locust headless; every request it makes lands in ``samples.jsonl``."""
        self.plan_path.write_text(json.dumps(self._plan, indent=2))
        argv = [
            sys.executable, "-m", "locust", "-f", ",".join(map(str, self._files)), "--headless",
            "--chaos-plan", str(self.plan_path),
            "--host", self.host, "--users", str(self.users), "--spawn-rate", str(self.users),
            "--run-time", f"{math.ceil(self.max_seconds)}s", "--stop-timeout", "2",
            "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
        ]
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             preexec_fn=_prepare_child)
        except OSError as error:
            raise HarnessError(f"cannot start Locust: {error}") from error
        finally:
            log.close()

    def stop(self, grace: float = 10.0) -> int | None:
        """Ask Locust to stop (SIGINT to the PID we started), then make sure it is gone."""
        process = self._process
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=5)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


class SampleTail:
    """Follows ``samples.jsonl`` while the load process appends to it: totals and the recent rate."""

    def __init__(self, path: Path, window: float = 2.0) -> None:
        self._path = path
        self._window = window
        self._offset = 0
        self._recent: deque[float] = deque()  # end times of the samples inside the window
        self.total = 0
        self.failed = 0

    def poll(self, now: float) -> float:
        """Read what was appended since the last poll; return requests per second over the window."""
        try:
            with self._path.open("rb") as file:
                file.seek(self._offset)
                chunk = file.read()
        except FileNotFoundError:
            chunk = b""
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a torn last line is read next time
        self._offset += len(complete)
        for line in complete.splitlines():
            sample = json.loads(line)
            self.total += 1
            self.failed += not sample["ok"]
            self._recent.append(sample["end"])
        while self._recent and self._recent[0] < now - self._window:
            self._recent.popleft()
        return len(self._recent) / self._window


def _prepare_child() -> None:
    """In the Locust child: SIGINT stops it gracefully even when the harness was started with SIGINT
    ignored (a background job of a non-interactive shell, as in many CI scripts), and it may open a
    connection for every request that can be in flight."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * MAX_IN_FLIGHT + 1000
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))


def orphaned_load(run_dir: Path) -> int | None:
    """The PID of a crashed run's load process that still runs Locust (its last load.start has no load.stop),
    or None.

    The command line is checked so that a reused PID of some other process is
    never taken for it.
    """
    from harness.journal import JOURNAL_FILE, read_journal  # the journal imports nothing from here

    journal = run_dir / JOURNAL_FILE
    if not journal.exists():
        return None
    try:
        events = read_journal(journal)
    except UsageError:
        return None  # a damaged journal: `report` says what is wrong with it
    starts = [e for e in events if e.type == "load.start"]
    if len(starts) <= sum(e.type == "load.stop" for e in events):
        return None  # every load process it started was stopped (a calibration starts one per rate)
    pid = starts[-1].get("pid")
    return pid if isinstance(pid, int) and _is_our_locust(pid) else None


def stop_orphaned_load(run_dir: Path, grace: float = 10.0) -> int | None:
    """Stop the load process of a crashed run (see ``orphaned_load``); return its PID, or None."""
    pid = orphaned_load(run_dir)
    if pid is None:
        return None
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _is_our_locust(pid):
        time.sleep(0.2)
    if _is_our_locust(pid):
        os.kill(pid, signal.SIGKILL)
    return pid


def _is_our_locust(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return any(str(RECORDER.parent).encode() in part for part in command) and state != "Z"
