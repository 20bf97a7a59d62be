"""The harness's own load: the app profile's requests on an open schedule; run by Locust, never imported.

Reads the plan the recorder loaded (``recorder.plan``): requests with weights,
an optional write probe and its share, the rate, the connection pool's size
and a short timeout. One user keeps the schedule: request ``i`` is due at
``start + i / rate`` and is sent then in a greenlet of its own, whatever the
requests before it are doing (an open model), so a slow or silent system
never slows the load down. Each request carries the time it was due, so the
samples show how late the schedule ran. A response whose status the profile
does not accept is a failure.
"""

import gc
import random
import time
import uuid

from gevent.event import Event
from gevent.pool import Pool
from locust import FastHttpUser, events, task

import recorder

MAX_CHAINED_ERRORS = 8  # how deep a failure's chain of errors is followed to cut its tracebacks
SCHEDULE_START_DELAY = 0.1  # seconds between the user starting and the first request being due
_stopping = Event()  # set when Locust is asked to stop: the schedule ends at once, requests in flight finish


@events.init.add_listener
def _configure(environment, **_kwargs):
    plan = recorder.plan
    ChaosUser.connection_timeout = ChaosUser.network_timeout = plan["timeout"]
    ChaosUser.concurrency = plan["concurrency"]


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
            pool.join(timeout=plan["timeout"] * 2)  # requests in flight end (and are recorded) before the user does

    def _request(self, due, shares):
        plan = recorder.plan
        if plan["writes"] and random.random() < plan["write_ratio"]:
            write_id = uuid.uuid4().hex
            self._send(plan["writes"], due, write_id)
        else:
            self._send(random.choices(plan["requests"], weights=shares)[0], due)

    def _send(self, request, due, write_id=""):
        path = request["path"].replace("{id}", write_id)
        body = request["body"].replace("{id}", write_id) if request.get("body") is not None else None
        context = {"due": due, "write_id": write_id} if write_id else {"due": due}
        with self.client.request(request["method"], path, name=request["name"], data=body,
                                 headers=request.get("headers") or None, context=context,
                                 catch_response=True) as response:
            accepted = request.get("status")
            if not response.status_code:
                response.failure(response.error or "no response")  # keeps the connection error's words
            elif response.status_code in accepted if accepted else 200 <= response.status_code < 400:
                response.success()
            else:
                response.failure(f"status {response.status_code}")
        _cut_tracebacks(getattr(response, "error", None))  # only a failed response has one


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
