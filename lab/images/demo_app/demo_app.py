"""The lab's demo app: a tiny HTTP/1.1 (keep-alive) server on the Python standard library.

GET /           200 {"version": ..., "color": ...} and headers X-App-Version, X-App-Color
GET /health     200, or 503 during the first SLOW_START_SECONDS (flavour slow-start),
                or always 500 (flavour broken)
GET /slow?ms=N  sleeps N ms, then answers like GET /
POST /echo, POST /
                reads the whole body (Content-Length; 411 without one), then 200 with the JSON of
                GET / plus "received": the body's length in bytes

Environment: APP_VERSION, APP_FLAVOUR (normal | slow-start | broken), BLUEGREEN_COLOR,
SLOW_START_SECONDS (default 8), APP_HOST (default 0.0.0.0, inside its container),
APP_PORT (default 8000). Exits at once on SIGTERM, as most
web frameworks do: whoever stops it must have drained its traffic first.
"""

from __future__ import annotations

import json
import os
import signal
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from urllib.parse import parse_qs, urlsplit

VERSION = os.environ.get("APP_VERSION", "dev")
FLAVOUR = os.environ.get("APP_FLAVOUR", "normal")
COLOR = os.environ.get("BLUEGREEN_COLOR", "") or "none"
SLOW_START_SECONDS = float(os.environ.get("SLOW_START_SECONDS", "8"))
HOST = os.environ.get("APP_HOST", "0.0.0.0")
PORT = int(os.environ.get("APP_PORT", "8000"))
MAX_SLEEP_MS = 600_000
MAX_BODY_BYTES = 1 << 20
STARTED = time.monotonic()


def health_status() -> int:
    if FLAVOUR == "broken":
        return 500
    if FLAVOUR == "slow-start" and time.monotonic() - STARTED < SLOW_START_SECONDS:
        return 503
    return 200


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds the body
    # until nginx's delayed ACK, about 40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "bluegreen-demo"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/":
            self.answer(200, {"version": VERSION, "color": COLOR})
        elif url.path == "/health":
            status = health_status()
            self.answer(status, {"status": "ok" if status == 200 else "unhealthy"})
        elif url.path == "/slow":
            try:
                ms = int(parse_qs(url.query).get("ms", ["0"])[0])
            except ValueError:
                self.answer(400, {"error": "ms must be an integer"})
                return
            time.sleep(min(max(ms, 0), MAX_SLEEP_MS) / 1000)
            self.answer(200, {"version": VERSION, "color": COLOR})
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            # The body cannot be skipped safely: answer and close the connection.
            self.close_connection = True
            status = 411 if length_header is None else 400
            self.answer(status, {"error": "a Content-Length up to 1 MiB is needed"})
            return
        received = len(self.rfile.read(length)) if length else 0
        if received < length:
            self.close_connection = True
            return
        if urlsplit(self.path).path in ("/", "/echo"):
            self.answer(200, {"version": VERSION, "color": COLOR, "received": received})
        else:
            self.answer(404, {"error": "not found"})

    def answer(self, status: int, body: dict[str, str | int]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-App-Version", VERSION)
        self.send_header("X-App-Color", COLOR)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def exit_now(signum: int, frame: FrameType | None) -> None:
    os._exit(0)


def main() -> None:
    # As PID 1 the app would ignore SIGTERM unless it handles it.
    signal.signal(signal.SIGTERM, exit_now)
    signal.signal(signal.SIGINT, exit_now)
    with Server((HOST, PORT), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
