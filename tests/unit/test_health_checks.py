"""The load balancer's own health checks: read from HAProxy's statistics, and a page the app never passes refused."""

from __future__ import annotations

from harness.app import DEFAULT_PROFILE, load_profile
from harness.stack import AppStack
from harness.stack.compose import StackOptions
from harness.stack.prepare import _health_check_the_app_never_passes
from harness.stack.router import HealthCheck, Router

# `show stat` as HAProxy 2.6 answers it, cut to the columns read (the real answer has some 90, in this order).
STAT = """# pxname,svname,status,check_status,check_code,check_desc
http,FRONTEND,OPEN,,,
blue,srv1,DOWN,L7STS,302,Layer7 wrong status
blue,srv2,UP,L7OK,200,Layer7 check passed
blue,srv4,MAINT (resolution),,,
blue,BACKEND,UP,,,
green,srv1,DOWN,L4CON,,Layer4 connection problem
"""


class StatRouter(Router):
    def command(self, line: str) -> str:
        assert line == "show stat"
        return STAT


def test_the_last_health_check_of_each_resolved_server_of_a_backend_is_read_from_the_statistics():
    router = StatRouter(0)
    assert router.health_checks("blue") == [HealthCheck("srv1", "L7STS", "302", "Layer7 wrong status"),
                                            HealthCheck("srv2", "L7OK", "200", "Layer7 check passed")]
    assert str(router.health_checks("green")[0]) == "srv1: L4CON Layer4 connection problem"


def test_a_health_check_every_task_answers_with_a_status_not_accepted_is_the_profiles_mistake():
    stack = AppStack(load_profile(DEFAULT_PROFILE), StackOptions(registry="registry:5000"), "http://127.0.0.1:1",
                     "v1", "v2")
    redirected = [HealthCheck("srv1", "L7STS", "302", "Layer7 wrong status")] * 2
    assert "entry.health: every task of web answers GET /healthz with 302, and the health check accepts 200" in \
        _health_check_the_app_never_passes(stack, redirected)
    for mixed in ([], [*redirected, HealthCheck("srv3", "L4CON", "", "")], [HealthCheck("srv1", "L7TOUT", "", "")]):
        assert _health_check_the_app_never_passes(stack, mixed) is None  # the cluster's trouble, or not known
