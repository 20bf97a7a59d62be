"""Per-request samples for chaos-harness; loaded by the Locust process beside the users' locustfile.

The harness never imports this (Locust monkey-patches the process with
gevent). Options arrive on Locust's command line (``--chaos-plan``, a JSON
file the harness wrote). Each request becomes one JSON line in the samples
file: start and end time (epoch seconds, the journal's clock), ok, status,
error kind, the load balancer's backend and server that answered, and the
time the request was due by the schedule (the harness's own users). Load
goes to loopback or the cluster's own nodes only and stops by itself after the plan's request budget
(and Locust's own ``--run-time``).
"""

import json
from urllib.parse import urlparse

from locust import events

MAX_REASON = 200
CHECK_REASONS = ("check ", "acknowledged status")  # how harness.checks words a failed check
LOOPBACK = {"127.0.0.1", "localhost", "::1"}  # and the plan's own_hosts: the cluster's nodes
SERVER_HEADER = "X-Chaos-Server"
BACKEND_HEADER = "X-Chaos-Backend"
SOURCE_HEADER = "X-Chaos-Source"  # where the load balancer connected from: joined to the nodes' connection tracking

plan: dict = {}
_state = {"count": 0, "sink": None, "rereads": None, "environment": None}


@events.init_command_line_parser.add_listener
def _options(parser, **_kwargs):
    parser.add_argument("--chaos-plan", type=str, default="", help="chaos-harness load plan (JSON file)")


@events.init.add_listener
def _start(environment, **_kwargs):
    with open(environment.parsed_options.chaos_plan, encoding="utf-8") as file:
        plan.update(json.load(file))
    if urlparse(environment.host or "").hostname not in LOOPBACK | set(plan["own_hosts"]):
        raise SystemExit(f"chaos-harness load targets loopback or the cluster's own nodes only, "
                         f"not {environment.host!r}")
    _state["sink"] = open(plan["samples"], "a", buffering=1, encoding="utf-8")
    _state["rereads"] = open(plan["rereads"], "a", buffering=1, encoding="utf-8")
    _state["environment"] = environment


@events.request.add_listener
def _record(request_type, name, response_time, response, context, exception, start_time, **_kwargs):
    context = context or {}
    if context.get("hop"):
        return  # a redirect followed: part of the request that asked for it
    headers = getattr(response, "headers", None) or {}
    status = getattr(response, "status_code", 0) or 0
    if context.get("reread"):
        _reread(context, start_time, response_time, status, exception)
        return
    sample = {
        "t": start_time,
        "end": start_time + response_time / 1000.0,
        "kind": name,
        "ok": exception is None,
        "status": status,
        "error": _error_kind(exception, status),
        "server": _header(headers, SERVER_HEADER),
        "backend": _header(headers, BACKEND_HEADER),
    }
    if source := _header(headers, SOURCE_HEADER):
        sample["source"] = source
    for key in ("write_id", "captured", "redirects"):
        if context.get(key):
            sample[key] = context[key]
    if context.get("due") is not None:
        sample["due"] = context["due"]  # when the schedule wanted it sent
    _state["sink"].write(json.dumps(sample) + "\n")
    _state["count"] += 1
    runner = _state["environment"].runner
    if _state["count"] >= plan["max_requests"] and runner is not None:
        runner.quit()


def _reread(context, start_time, response_time, status, exception):
    """A read of an acknowledged write during the run: what it said of the write, into ``rereads.jsonl``."""
    record = {"t": start_time, "end": start_time + response_time / 1000.0, "write_id": context["write_id"],
              "outcome": context["outcome"], "status": status, "reason": None if exception is None else str(exception)[:MAX_REASON]}
    _state["rereads"].write(json.dumps(record) + "\n")


@events.quitting.add_listener
def _close(**_kwargs):
    for sink in (_state["sink"], _state["rereads"]):
        if sink is not None:
            sink.flush()


def _header(headers, name):
    return headers.get(name) or headers.get(name.lower()) or None


def _error_kind(exception, status):
    if exception is None:
        return None
    if status:
        text = str(exception)  # a failed check's reason, or "status N"
        return text[:MAX_REASON] if text.startswith(CHECK_REASONS) else f"http_{status}"
    text = f"{type(exception).__name__} {exception}".lower()
    for needle, kind in (("timeout", "timeout"), ("timed out", "timeout"), ("refused", "connection_refused"),
                         ("reset", "connection_reset"), ("closed", "connection_closed")):
        if needle in text:
            return kind
    return type(exception).__name__
