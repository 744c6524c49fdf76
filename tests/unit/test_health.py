import itertools
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bluegreen.docker_state import ContainerState, Verdict, healthcheck_argv, startup_verdict
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
    status: str = "running",
    health: str | None = None,
    restarts: int = 0,
    code: int = 0,
    policy: str = "unless-stopped",
    name: str = "shop-blue-web-1",
) -> ContainerState:
    return ContainerState(name, status, health, restarts, code, id=f"id-{name}", restart_policy=policy)


TASK = "shop-blue-migrate-1"


@pytest.mark.parametrize(
    ("states", "verdict"),
    [
        ([], Verdict(fatal="compose started no containers")),
        ([state()], Verdict()),
        ([state(health="healthy")], Verdict()),
        ([state(health="starting")], Verdict(waiting="container shop-blue-web-1 docker health is starting")),
        ([state("restarting", restarts=1)], Verdict(waiting="container shop-blue-web-1 is restarting")),
        (
            [state("exited", code=3)],
            Verdict(
                fatal="container shop-blue-web-1 exited with code 3", failed_container="id-shop-blue-web-1"
            ),
        ),
        (
            [state(restarts=3)],
            Verdict(
                fatal="container shop-blue-web-1 is crash-looping (3 restarts)",
                failed_container="id-shop-blue-web-1",
            ),
        ),
        # a one-shot task (restart: "no") that finished well is fine; one that failed is fatal
        ([state(), state("exited", code=0, policy="no", name=TASK)], Verdict()),
        (
            [state(), state("exited", code=2, policy="no", name=TASK)],
            Verdict(fatal=f"container {TASK} exited with code 2", failed_container=f"id-{TASK}"),
        ),
        # a service meant to keep running that exits 0 is not a finished task
        (
            [state("exited", code=0)],
            Verdict(
                fatal="container shop-blue-web-1 exited with code 0", failed_container="id-shop-blue-web-1"
            ),
        ),
    ],
)
def test_startup_verdict(states: list[ContainerState], verdict: Verdict) -> None:
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
