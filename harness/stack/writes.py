"""Acknowledged writes through the load balancer, read back and judged by the profile's checks.

A write is acknowledged when its answer passes the write's check and every
capture found its value. A read-back says present, absent or unverifiable
(``harness.checks.read_outcome``); the final read-back retries what was
unverifiable until its deadline, many requests at a time. The negative
control proves a read-back can fail: an id and captures never written must
read back as absent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from harness.app.profile import Writes
from harness.checks import (
    PRESENT, UNVERIFIABLE, captured_of, failure, read_outcome, says_try_again, write_outcome,
)
from harness.errors import ProfileError
from harness.http import CONNECTIONS
from harness.stack import AppStack

READ_TIMEOUT = 3.0
CONTROL_TIMEOUT = 10.0  # the negative control asks an unverifiable answer again for this long
LISTING_TIMEOUT = 30.0  # the listing of every write may be large
LISTED = "(in the listing)"  # the body recorded for a write the listing showed
RETRY_PAUSE = 2.0
BODY_HEAD = 200  # bytes of a read-back's body kept in its record
NEVER = "never"  # what a capture that was never assigned is made of


@dataclass(frozen=True)
class Written:
    """One write of the probe: its id and captured values, or why it was not acknowledged."""

    values: dict[str, str]
    reason: str | None = None
    status: int = 0

    @property
    def acknowledged(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class ReadBack:
    """What reading one write back said: present, absent or unverifiable, and what was answered."""

    values: Mapping[str, str]
    outcome: str
    status: int | None
    reason: str | None
    body: str = ""
    redirects: tuple[str, ...] = field(default=())

    def record(self) -> dict:
        """One line of ``readback.jsonl``."""
        return {"write_id": self.values.get("id"), "captured": captured_of(self.values), "outcome": self.outcome,
                "status": self.status, "reason": self.reason, "body": self.body,
                **({"redirects": list(self.redirects)} if self.redirects else {})}


def _writes(stack: AppStack) -> Writes:
    writes = stack.profile.model.writes
    if writes is None:
        raise ValueError("the app profile has no write probe")
    return writes


def write(stack: AppStack, write_id: str) -> Written:
    """One write through the load balancer, judged by the write's check, its captures taken."""
    request = _writes(stack).write
    values = {"id": write_id}
    answer = stack.send(request, values)
    if answer is None:
        return Written(values, "no answer")
    captured, reason = write_outcome(request.check, request.capture, answer.status, answer.headers, answer.body, values)
    return Written({**values, **captured}, reason, answer.status)


def read(stack: AppStack, values: Mapping[str, str]) -> ReadBack:
    """Read one write back and judge the answer."""
    request = _writes(stack).read
    answer = stack.send(request, values, timeout=READ_TIMEOUT)
    if answer is None:
        return ReadBack(values, UNVERIFIABLE, None, "no answer")
    outcome, reason = read_outcome(request.check, request.absent, answer.status, answer.headers, answer.body, values)
    return ReadBack(values, outcome, answer.status, reason, answer.head(BODY_HEAD), answer.redirects)


def read_all(stack: AppStack, written: Iterable[Mapping[str, str]], timeout: float) -> list[ReadBack]:
    """Every write read back: those the profile's listing (``read_all``) shows as present, the rest one by one,
    ``CONNECTIONS`` at a time, unverifiable ones again until ``timeout`` passed."""
    listed, rest = _listed(stack, list(written))
    return listed + _read_each(stack, rest, time.monotonic() + timeout)


def _listed(stack: AppStack, written: list[Mapping[str, str]]) -> tuple[list[ReadBack], list[Mapping[str, str]]]:
    """The writes the listing's answer holds (present), and the others; all others without a usable listing."""
    request, read = _writes(stack).read_all, _writes(stack).read
    answer = stack.send(request, timeout=LISTING_TIMEOUT) if request is not None and written else None
    if answer is None or failure(request.check, answer.status, answer.headers, answer.body) is not None:
        return [], written
    listed, rest = [], []
    for values in written:
        passed = failure(read.check, answer.status, answer.headers, answer.body, values) is None
        (listed if passed else rest).append(values)
    return [ReadBack(v, PRESENT, answer.status, None, LISTED) for v in listed], rest


def _read_each(stack: AppStack, written: list[Mapping[str, str]], deadline: float) -> list[ReadBack]:
    """Each write read back, in order, ``CONNECTIONS`` at a time; the unverifiable ones again until ``deadline``."""
    results: dict[int, ReadBack] = {}
    pending = list(range(len(written)))
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        while pending:
            results.update(zip(pending, pool.map(lambda index: read(stack, written[index]), pending)))
            pending = [index for index in pending if results[index].outcome == UNVERIFIABLE]
            if pending and time.monotonic() + RETRY_PAUSE < deadline:
                time.sleep(RETRY_PAUSE)
            else:
                break
    return [results[index] for index in range(len(written))]


def never_written(values: Mapping[str, str]) -> dict[str, str]:
    """An id and captures that no write made: a fresh id; numbers far beyond, texts with a suffix."""
    fresh = {"id": f"{NEVER}-{uuid.uuid4().hex}"}
    for name, value in values.items():
        if name != "id":
            fresh[name] = str(int(value) + 10**12) if value.isdigit() else f"{value}-{NEVER}-{uuid.uuid4().hex[:8]}"
    return fresh


def negative_control(stack: AppStack) -> tuple[ReadBack, ReadBack]:
    """A write made and read back (present), and one never made read back (absent): the read-back can fail.

    ProfileError (exit 2) when the fresh write is not acknowledged or does not
    read back as present, or the one never made (nor the listing, with
    ``read_all``) does not read back as absent. A write that got no answer or a
    5xx / "try again" status, and unverifiable reads, are asked again for
    ``CONTROL_TIMEOUT`` seconds.
    """
    deadline = time.monotonic() + CONTROL_TIMEOUT
    made = write(stack, f"control-{uuid.uuid4().hex}")
    while not made.acknowledged and says_try_again(made.status) and time.monotonic() + RETRY_PAUSE < deadline:
        time.sleep(RETRY_PAUSE)  # a service behind the entry may still be starting (a db after its node came back)
        made = write(stack, f"control-{uuid.uuid4().hex}")
    where = f"{stack.profile.path}: writes"
    if not made.acknowledged:
        raise ProfileError(f"{where}.write: the write was not acknowledged ({made.reason}); check its status, "
                           "check and capture against what the app answers")
    never = never_written(made.values)
    found, missing = _read_each(stack, [made.values, never], max(deadline, time.monotonic() + RETRY_PAUSE))
    problem = _control_problem(found, missing) or (_listed(stack, [never])[0] and LISTING_FINDS_ALL)
    if problem:
        raise ProfileError(f"{where}.{problem}")
    return found, missing


LISTING_FINDS_ALL = ("read_all: the listing passes writes.read.check for a write never made: it would call lost "
                     "writes present; make read.check name {id} or a captured value")


def _control_problem(found: ReadBack, missing: ReadBack) -> str | None:
    """What the negative control's two reads say is wrong with the read-back, or None."""
    if found.outcome != PRESENT:
        return (f"read: a write just acknowledged reads back as {found.outcome} ({found.reason}; answered "
                f"{found.status}: {found.body[:80]!r}); the read-back cannot see writes")
    if missing.outcome == UNVERIFIABLE:
        return (f"read: reading back a write never made answered {missing.status or 'nothing'} ({missing.reason}: "
                f"{missing.body[:80]!r}), which says neither present nor absent; name what an absent item looks "
                "like in writes.read.absent (such as `{status: [404]}`)")
    if missing.outcome == PRESENT:
        return (f"read: your read-back finds items that were never written (it answered {missing.status}: "
                f"{missing.body[:80]!r}, which passes writes.read.check): it cannot detect a lost write. Add a body "
                "check that only a stored item passes, such as `check: {contains: \"{id}\"}` or a JSON query that "
                "finds this write in the answer's shape (`json: [{query: \"results[?name=='{id}']\", not_empty: "
                "true}]`), or read by a captured id (`path: /items/{captured.id}`, with `absent: {status: [404]}`)")
    return None
