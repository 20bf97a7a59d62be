"""Locust load for chaos-harness; run by the load process, never imported by the harness.

Constant total rate, reads and acknowledged writes, about 1 s timeouts, and
one JSON line per request in the samples file: start and end time (epoch
seconds, the journal's clock), ok, status, error kind, and the version and
node that served it. Load goes to loopback only and stops by itself after
``CHAOS_MAX_REQUESTS`` requests (and Locust's own ``--run-time``).
"""

import json
import os
import random
import time
import uuid
from urllib.parse import urlparse

import gevent
from locust import FastHttpUser, events, task

RATE = float(os.environ.get("CHAOS_RATE", "50"))
USERS = int(os.environ.get("CHAOS_USERS", "100"))
TIMEOUT = float(os.environ.get("CHAOS_TIMEOUT", "1.0"))
WRITE_RATIO = float(os.environ.get("CHAOS_WRITE_RATIO", "0.2"))
MAX_REQUESTS = int(os.environ.get("CHAOS_MAX_REQUESTS", "100000"))
SAMPLES_PATH = os.environ.get("CHAOS_SAMPLES", "samples.jsonl")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

_sink = open(SAMPLES_PATH, "a", buffering=1, encoding="utf-8")
_count = 0
_environment = None


@events.init.add_listener
def _refuse_remote_hosts(environment, **_kwargs):
    global _environment
    _environment = environment
    host = urlparse(environment.host or "").hostname
    if host not in LOOPBACK:
        raise SystemExit(f"chaos-harness load targets loopback only, not {environment.host!r}")


@events.request.add_listener
def _record(request_type, name, response_time, response, context, exception, start_time, **_kwargs):
    global _count
    headers = getattr(response, "headers", None) or {}
    status = getattr(response, "status_code", 0) or 0
    sample = {
        "t": start_time,
        "end": start_time + response_time / 1000.0,
        "kind": name,
        "ok": exception is None,
        "status": status,
        "error": _error_kind(exception, status),
        "version": _header(headers, "X-App-Version"),
        "node": _header(headers, "X-Node"),
        "task": _header(headers, "X-Served-By"),
    }
    if context.get("write_id"):
        sample["write_id"] = context["write_id"]
    _sink.write(json.dumps(sample) + "\n")
    _count += 1
    if _count >= MAX_REQUESTS and _environment is not None and _environment.runner is not None:
        _environment.runner.quit()


@events.quitting.add_listener
def _close(**_kwargs):
    _sink.flush()


def _header(headers, name):
    value = headers.get(name) or headers.get(name.lower())
    return value or None


def _error_kind(exception, status):
    if exception is None:
        return None
    if status:
        return f"http_{status}"
    text = f"{type(exception).__name__} {exception}".lower()
    for needle, kind in (("timeout", "timeout"), ("timed out", "timeout"), ("refused", "connection_refused"),
                         ("reset", "connection_reset"), ("closed", "connection_closed")):
        if needle in text:
            return kind
    return type(exception).__name__


class ChaosUser(FastHttpUser):
    """Reads ``/`` and writes ``/write?id=...`` at a constant share of the total rate."""

    connection_timeout = TIMEOUT
    network_timeout = TIMEOUT
    max_retries = 0
    period = USERS / RATE  # each user sends one request per period

    def on_start(self):
        # Users start together: a random phase spreads their requests evenly over
        # the period, and a fixed schedule (not Locust's pacing, which lets users
        # fall back into step) keeps them spread.
        gevent.sleep(random.uniform(0, self.period))
        self._next = time.time()

    def wait_time(self):
        self._next = max(self._next + self.period, time.time())
        return self._next - time.time()

    @task
    def request(self):
        if random.random() < WRITE_RATIO:
            write_id = uuid.uuid4().hex
            self.client.post(f"/write?id={write_id}", name="write", context={"write_id": write_id})
        else:
            self.client.get("/", name="read")

