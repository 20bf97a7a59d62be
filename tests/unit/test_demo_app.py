"""The demo's web tier as a process would run it: with APP_WARMUP it is ready before it can serve.

The module is loaded from the shipped file with a stand-in for the redis client (the harness's environment has
none), and served on a free port of this host.
"""

import http.client
import importlib.util
import sys
import threading
import types

import pytest

from harness.shipped import APPS

APP = APPS / "demo" / "web" / "app.py"


class FakeRedis:
    """The few calls the demo makes, on a set in memory."""

    def __init__(self, **_):
        self.stored: set[str] = set()

    def sadd(self, _key, value):
        self.stored.add(value)

    def sismember(self, _key, value):
        return value in self.stored

    def smembers(self, _key):
        return set(self.stored)


@pytest.fixture
def serve(monkeypatch):
    """serve(warmup) -> (the loaded module, its port): the app started with APP_WARMUP=warmup (None: unset)."""
    servers = []
    fake = types.ModuleType("redis")
    fake.Redis, fake.RedisError = FakeRedis, type("RedisError", (Exception,), {})
    monkeypatch.setitem(sys.modules, "redis", fake)

    def start(warmup: str | None):
        if warmup is None:
            monkeypatch.delenv("APP_WARMUP", raising=False)
        else:
            monkeypatch.setenv("APP_WARMUP", warmup)
        spec = importlib.util.spec_from_file_location("demo_web_app", APP)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        server = module.Server(("127.0.0.1", 0), module.Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return module, server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def ask(port: int, method: str, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_during_its_warm_up_the_demo_answers_its_health_check_and_503_to_everything_else(serve, monkeypatch):
    module, port = serve("15")
    assert module.WARMUP == 15
    assert ask(port, "GET", "/healthz") == (200, "ok\n")  # ready at once: the probe passes
    for method, path in (("GET", "/"), ("GET", "/read?id=a"), ("GET", "/writes"), ("POST", "/write?id=a")):
        assert ask(port, method, path) == (503, "warming up\n"), path
    monkeypatch.setattr(module, "STARTED", module.STARTED - 15)  # the warm-up is over
    assert ask(port, "GET", "/") == (200, "hello from v1\n")
    assert ask(port, "POST", "/write?id=a") == (201, "a\n")
    assert ask(port, "GET", "/read?id=a") == (200, "a\n")


def test_without_app_warmup_the_demo_serves_at_once(serve):
    module, port = serve(None)
    assert module.WARMUP == 0
    assert ask(port, "GET", "/") == (200, "hello from v1\n")
    assert ask(port, "POST", "/write?id=b") == (201, "b\n")
