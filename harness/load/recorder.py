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

LOOPBACK = {"127.0.0.1", "localhost", "::1"}  # and the plan's own_hosts: the cluster's nodes
SERVER_HEADER = "X-Chaos-Server"
BACKEND_HEADER = "X-Chaos-Backend"

plan: dict = {}
_state = {"count": 0, "sink": None, "environment": None}


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
    _state["environment"] = environment


@events.request.add_listener
def _record(request_type, name, response_time, response, context, exception, start_time, **_kwargs):
    headers = getattr(response, "headers", None) or {}
    status = getattr(response, "status_code", 0) or 0
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
    context = context or {}
    if context.get("write_id"):
        sample["write_id"] = context["write_id"]
    if context.get("due") is not None:
        sample["due"] = context["due"]  # when the schedule wanted it sent
    _state["sink"].write(json.dumps(sample) + "\n")
    _state["count"] += 1
    runner = _state["environment"].runner
    if _state["count"] >= plan["max_requests"] and runner is not None:
        runner.quit()


@events.quitting.add_listener
def _close(**_kwargs):
    if _state["sink"] is not None:
        _state["sink"].flush()


def _header(headers, name):
    return headers.get(name) or headers.get(name.lower()) or None


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
