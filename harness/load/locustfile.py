"""The harness's own users: the app profile's requests at a constant total rate; run by Locust, never imported.

Reads the plan the recorder loaded (``recorder.plan``): requests with weights,
an optional write probe and its share, the rate, the user count and a short
timeout. A response whose status the profile does not accept is a failure.
"""

import random
import time
import uuid

import gevent
from locust import FastHttpUser, events, task

import recorder


@events.init.add_listener
def _configure(environment, **_kwargs):
    plan = recorder.plan
    ChaosUser.connection_timeout = ChaosUser.network_timeout = plan["timeout"]
    ChaosUser.period = plan["users"] / plan["rate"]  # each user sends one request per period


class ChaosUser(FastHttpUser):
    """Sends the profile's requests (and acknowledged writes) on a fixed per-user schedule."""

    max_retries = 0
    period = 1.0

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
        plan = recorder.plan
        if plan["writes"] and random.random() < plan["write_ratio"]:
            write_id = uuid.uuid4().hex
            self._send(plan["writes"], write_id, {"write_id": write_id})
        else:
            requests = plan["requests"]
            self._send(random.choices(requests, weights=[r["weight"] for r in requests])[0])

    def _send(self, request, write_id="", context=None):
        path = request["path"].replace("{id}", write_id)
        body = request["body"].replace("{id}", write_id) if request.get("body") is not None else None
        with self.client.request(request["method"], path, name=request["name"], data=body,
                                 headers=request.get("headers") or None, context=context or {},
                                 catch_response=True) as response:
            accepted = request.get("status")
            if not response.status_code:
                response.failure(response.error or "no response")  # keeps the connection error's words
            elif response.status_code in accepted if accepted else 200 <= response.status_code < 400:
                response.success()
            else:
                response.failure(f"status {response.status_code}")
