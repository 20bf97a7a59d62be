"""The harness's own load: the app profile's requests on an open schedule; run by Locust, never imported.

Reads the plan the recorder loaded (``recorder.plan``): requests with weights,
an optional write probe and its share, the rate, the connection pool's size
and a short timeout. One user keeps the schedule: request ``i`` is due at
``start + i / rate`` and is sent then in a greenlet of its own, whatever the
requests before it are doing (an open model), so a slow or silent system
never slows the load down. Each request carries the time it was due, so the
samples show how late the schedule ran. A response that fails the request's
check (``harness.checks``) is a failure, its reason the error; redirects are
followed only when the check says so, and only on the same host. A write is
acknowledged when its captures found their values too; ``writes.rereads``
times a second one of them is read again (``rereads.jsonl``).
"""

import gc
import random
import time
import uuid

import gevent
from gevent.event import Event
from gevent.pool import Pool
from locust import FastHttpUser, events, task

import recorder
from harness.checks import Capture, Check, captured_of, failure, read_outcome, substitute, values_of, write_outcome
from harness.http import MAX_REDIRECTS, same_host_redirect

MAX_REMEMBERED = 100_000  # acknowledged writes a reread may pick from

MAX_CHAINED_ERRORS = 8  # how deep a failure's chain of errors is followed to cut its tracebacks
SCHEDULE_START_DELAY = 0.1  # seconds between the user starting and the first request being due
_stopping = Event()  # set when Locust is asked to stop: the schedule ends at once, requests in flight finish


_checks: dict[int, Check] = {}  # id() of a request of the plan -> its check
_captures: dict[str, Capture] = {}  # the write's captures
_acknowledged: list[dict] = []  # values ({id}, {captured.NAME}) of acknowledged writes


@events.init.add_listener
def _configure(environment, **_kwargs):
    plan = recorder.plan
    ChaosUser.connection_timeout = ChaosUser.network_timeout = plan["timeout"]
    ChaosUser.concurrency = plan["concurrency"]
    probe = plan["writes"] or {}
    for request in (*plan["requests"], *(probe[k] for k in ("write", "read") if k in probe)):
        _checks[id(request)] = Check.model_validate(request["check"])
        _captures.update((k, Capture.model_validate(v)) for k, v in (request.get("capture") or {}).items())
        if request.get("absent"):
            _checks[id(request["absent"])] = Check.model_validate(request["absent"])


@events.test_stopping.add_listener
def _stop(**_kwargs):
    _stopping.set()


class ChaosUser(FastHttpUser):
    """The one user: sends the profile's requests (and acknowledged writes) on their due times."""

    fixed_count = 1
    max_retries = 0
    concurrency = 10

    @task
    def keep_schedule(self):
        plan = recorder.plan
        period, shares = 1.0 / plan["rate"], [r["weight"] for r in plan["requests"]]
        # Locust's imports leave a few hundred thousand objects behind; frozen, the
        # collector's full passes skip them (40 ms stalls every few seconds otherwise).
        gc.freeze()
        start = time.time() + SCHEDULE_START_DELAY
        pool = Pool(plan["concurrency"])  # a full pool delays the next send: the samples show it as lag
        rereads = plan["writes"] and plan["writes"]["rereads"] and gevent.spawn(self._reread, pool)
        try:
            for index in range(plan["max_requests"]):
                due = start + index * period
                ahead = due - time.time()
                if ahead > 0:  # a late schedule sends at once: waiting, even for 0 s, is a pass through the hub
                    _stopping.wait(ahead)
                if _stopping.is_set():
                    break
                pool.spawn(self._request, due, shares)
        finally:
            if rereads:
                rereads.kill(block=False)
            pool.join(timeout=plan["timeout"] * 2)  # requests in flight end (and are recorded) before the user does

    def _request(self, due, shares):
        plan = recorder.plan
        if plan["writes"] and random.random() < plan["write_ratio"]:
            self._send(plan["writes"]["write"], due, {"id": uuid.uuid4().hex}, write=True)
        else:
            self._send(random.choices(plan["requests"], weights=shares)[0], due)

    def _reread(self, pool):
        """Every 1/rereads seconds, read one acknowledged write again (while there are any)."""
        probe = recorder.plan["writes"]
        period = 1.0 / probe["rereads"]
        while not _stopping.wait(period):
            if _acknowledged:
                pool.spawn(self._send, probe["read"], time.time(), random.choice(_acknowledged), reread=True)

    def _send(self, request, due, values=None, write=False, reread=False):
        values = values or {}
        check = _checks[id(request)]
        context = {"due": due, **({"write_id": values["id"]} if write or reread else {}),
                   **({"reread": True, "outcome": "unverifiable"} if reread else {})}
        with self._client_request(request, values, context, follow=False) as response:
            answer = _followed(self, request, values, response) if check.follow_redirects else response
            meta = response.request_meta["context"]
            if not answer.status_code:
                response.failure(getattr(answer, "error", None) or "no response")  # keeps the connection error's words
            elif reread:
                self._judge_reread(request, answer, values, response)
            else:
                reason = self._judge(check, answer, values, meta if write else None)
                if reason is None:
                    response.success()
                    if write and len(_acknowledged) < MAX_REMEMBERED:
                        _acknowledged.append(values_of(values["id"], meta.get("captured")))
                else:
                    response.failure(reason)
        _cut_tracebacks(getattr(response, "error", None))  # only a failed response has one

    def _judge(self, check, answer, values, write_meta):
        """Why an answer fails its check (and, for a write, its captures); captured values go into ``write_meta``."""
        headers, body = answer.headers or {}, answer.content or b""
        if write_meta is None:
            return failure(check, answer.status_code, headers, body, values)
        captured, reason = write_outcome(check, _captures, answer.status_code, headers, body, values)
        write_meta["captured"] = captured_of(captured) or None
        return reason

    def _judge_reread(self, request, answer, values, response):
        absent = request.get("absent")
        outcome, reason = read_outcome(_checks[id(request)], absent and _checks[id(absent)], answer.status_code,
                                       answer.headers or {}, answer.content or b"", values)
        response.request_meta["context"]["outcome"] = outcome
        response.success() if reason is None else response.failure(reason)

    def _client_request(self, request, values, context, follow):
        body = request.get("body")
        headers = {k: substitute(v, values) for k, v in (request.get("headers") or {}).items()}
        return self.client.request(request["method"], substitute(request["path"], values), name=request["name"],
                                   data=substitute(body, values) if body is not None else None,
                                   headers=headers or None, context=context, catch_response=True,
                                   allow_redirects=follow)


def _followed(user, request, values, response):
    """The final answer after same-host redirects (each hop recorded in the first request's context, not as a
    sample of its own); the redirect itself when it leads elsewhere."""
    answer, chain, path = response, [], substitute(request["path"], values)
    while len(chain) < MAX_REDIRECTS:
        location = (answer.headers or {}).get("Location") or (answer.headers or {}).get("location")
        path = same_host_redirect(user.host, path, answer.status_code or 0, location)
        if path is None:
            break
        chain.append(f"{answer.status_code} {path}")
        answer = user.client.request("GET", path, name=request["name"], context={"hop": True}, allow_redirects=False)
    response.request_meta["context"]["redirects"] = chain or None
    return answer


def _cut_tracebacks(error, depth=MAX_CHAINED_ERRORS):
    """Free a failed request's memory at once, not in the collector's full passes.

    Locust keeps the error on the response, and the error's traceback holds the
    frame that holds the response: a cycle of some 70 objects per failure. At
    1,000 failures a second the full passes that freed them stalled the
    schedule by up to 240 ms every 1-3 s. The errors it wraps (the client's
    ``original``, ``__cause__``, ``__context__``) hold such tracebacks too.
    """
    if error is None or depth == 0:
        return
    error.__traceback__ = None
    wrapped = [value for value in getattr(error, "__dict__", {}).values() if isinstance(value, BaseException)]
    for inner in (error.__context__, error.__cause__, *wrapped):
        _cut_tracebacks(inner, depth - 1)
