"""The app: a real HTTP server on 127.0.0.1 that behaves like the scraper, healthy or not."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.clock import SimulatedClock

SLOW_SECONDS = 0.5  # the "slow" app's latency per request
# How often serve_forever looks for shutdown() (default 0.5 s: "Poll for shutdown every poll_interval seconds",
# https://docs.python.org/3/library/socketserver.html#socketserver.BaseServer.serve_forever): what closing one costs.
POLL_SECONDS = 0.02


class FakeApp:
    """Behaviour per path: (status, json body, delay seconds). `mode` switches all of them at once.

    A delay advances `clock` (a SimulatedClock) when given, else it is slept; a hanging app answers nothing until
    it is closed."""

    def __init__(self, clock: SimulatedClock | None = None):
        self.mode = "healthy"
        self.requests: list[str] = []
        self.clock = clock
        self.closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, Any, float]:
        scrapers = {"scrapers": [{"name": "twitter", "status": "ok"}, {"name": "reddit", "status": "ok"}]}
        healthy = {"/health": (200, {"status": "ok"}, 0), "/health/ready": (200, {"ready": True}, 0),
                   "/api/v1/status": (200, {"version": "2.4.1"}, 0), "/api/v1/scrapers/status": (200, scrapers, 0)}
        status, body, delay = healthy.get(path, (404, {"error": "not found"}, 0))
        if self.mode == "slow":
            delay = SLOW_SECONDS
        elif self.mode == "hanging":
            delay = math.inf
        elif self.mode == "failing" and path == "/health/ready":
            status, body = 503, {"ready": False}
        elif self.mode == "scrapers-failing" and path == "/api/v1/scrapers/status":
            body = {"scrapers": [{"name": "twitter", "status": "ok"}, {"name": "reddit", "status": "rate-limited"}]}
        return status, body, delay

    def _handler(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                app.requests.append(self.path)
                status, body, delay = app.answer(self.path)
                app.take(delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        return Handler

    def take(self, delay: float) -> None:
        if delay == math.inf:
            self.closed.wait()
        elif delay and self.clock is not None:
            self.clock.advance(delay)
        elif delay:
            time.sleep(delay)

    def close(self):
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
