"""The web service under test.

Every response names the version and the task and node that served it, so
the harness can see the version mix from the client side. Writes are
acknowledged only after the database has stored (and fsynced) them.

APP_WARMUP (seconds, 0 by default) makes a release that is ready too early:
for that long after start every request but the health check is answered
503, while /healthz answers 200 at once (a warm-up its probe does not see).
"""
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import redis

VERSION = os.environ.get("APP_VERSION", "v1")
HEALTHY = os.environ.get("APP_HEALTHY", "1") == "1"
WARMUP = float(os.environ.get("APP_WARMUP", "0"))
STARTED = time.monotonic()
TASK = os.environ.get("TASK_NAME") or socket.gethostname()
NODE = os.environ.get("NODE_NAME", "unknown")
WRITES_KEY = "chaos:writes"
DB = redis.Redis(
    host=os.environ.get("DB_HOST", "db"),
    port=6379,
    socket_timeout=1.0,
    socket_connect_timeout=1.0,
    decode_responses=True,
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != "/healthz" and self._warming():
            return
        if url.path == "/":
            self._answer(200, f"hello from {VERSION}\n")
        elif url.path == "/healthz":
            self._answer(200 if HEALTHY else 503, "ok\n" if HEALTHY else "unhealthy\n")
        elif url.path == "/read":
            self._with_db(lambda: self._read(_query_id(url.query)))
        elif url.path == "/writes":
            self._with_db(lambda: self._answer(200, "".join(f"{i}\n" for i in DB.smembers(WRITES_KEY))))
        else:
            self._answer(404, "not found\n")

    def do_POST(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self._warming():
            return
        if url.path != "/write":
            self._answer(404, "not found\n")
            return
        write_id = _query_id(url.query)
        if not write_id:
            self._answer(400, "missing id\n")
            return
        self._with_db(lambda: (DB.sadd(WRITES_KEY, write_id), self._answer(201, f"{write_id}\n")))

    def _warming(self) -> bool:
        """Answers 503 while the warm-up lasts (APP_WARMUP seconds after start); True when it did."""
        if time.monotonic() - STARTED >= WARMUP:
            return False
        self._answer(503, "warming up\n")
        return True

    def _read(self, write_id: str) -> None:
        found = bool(write_id) and DB.sismember(WRITES_KEY, write_id)
        self._answer(200 if found else 404, f"{write_id}\n")

    def _with_db(self, action) -> None:
        try:
            action()
        except redis.RedisError as error:
            self._answer(503, f"database unavailable: {error.__class__.__name__}\n")

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-App-Version", VERSION)
        self.send_header("X-Served-By", TASK)
        self.send_header("X-Node", NODE)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # keep task logs quiet
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connection attempts in bursts at high rates; a dropped SYN is
    # retried after a second, which a client with a 1 s timeout sees as a failure of a healthy app.
    request_queue_size = 1024

    def handle_error(self, request, client_address) -> None:
        """A client hanging up mid-answer is not an error: HAProxy ends every health check with a reset."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _query_id(query: str) -> str:
    return parse_qs(query).get("id", [""])[0][:64]


if __name__ == "__main__":
    server = Server(("0.0.0.0", 8080), Handler)
    # As PID 1 the app would ignore SIGTERM and be killed after the grace period.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
