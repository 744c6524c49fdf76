import itertools
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bluegreen.containers import ContainerState, healthcheck_argv, startup_verdict
from bluegreen.health import backoff, http_get


def test_backoff_starts_small_and_is_capped() -> None:
    assert list(itertools.islice(backoff(), 4)) == [0.1, 0.15000000000000002, 0.22500000000000003, 0.3375]
    assert max(itertools.islice(backoff(), 50)) == 2.0


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/health" else 500
        self.send_response(status)
        self.send_header("X-Bluegreen-Upstream", "127.0.0.1:8082")
        self.end_headers()
        self.wfile.write(b"fine")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_http_get_over_a_stream(server: int) -> None:
    answer = http_get(lambda: socket.create_connection(("127.0.0.1", server)), "/health", 2)
    assert (answer.status, answer.ok, answer.body) == (200, True, b"fine")
    assert answer.headers["x-bluegreen-upstream"] == "127.0.0.1:8082"
    assert not http_get(lambda: socket.create_connection(("127.0.0.1", server)), "/x", 2).ok


def state(
    status: str = "running", health: str | None = None, restarts: int = 0, code: int = 0
) -> ContainerState:
    return ContainerState("shop-blue-web-1", status, health, restarts, code)


@pytest.mark.parametrize(
    ("states", "verdict"),
    [
        ([], ("compose started no containers", None)),
        ([state()], (None, None)),
        ([state(health="healthy")], (None, None)),
        ([state(health="starting")], (None, "container shop-blue-web-1 docker health is starting")),
        ([state("restarting", restarts=1)], (None, "container shop-blue-web-1 is restarting")),
        ([state("exited", code=3)], ("container shop-blue-web-1 exited with code 3", None)),
        ([state(restarts=3)], ("container shop-blue-web-1 is crash-looping (3 restarts)", None)),
    ],
)
def test_startup_verdict(states: list[ContainerState], verdict: tuple[str | None, str | None]) -> None:
    assert startup_verdict(states) == verdict


@pytest.mark.parametrize(
    ("test", "argv"),
    [
        (("CMD", "python3", "-c", "print(1)"), ["python3", "-c", "print(1)"]),
        (("CMD-SHELL", "curl -f localhost || exit 1"), ["/bin/sh", "-c", "curl -f localhost || exit 1"]),
        (("NONE",), None),
        ((), None),
    ],
)
def test_healthcheck_argv(test: tuple[str, ...], argv: list[str] | None) -> None:
    assert healthcheck_argv(test) == argv
