"""lab.traffic against a local site: over https with a site name, and plain HTTP as before."""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.traffic import (
    CLOSED_CONNECTION,
    CLOSED_KEEPALIVE,
    Record,
    Traffic,
    describe_failures,
    failures,
    get_once,
)
from tests.unit.local_site import SITE, local_site


def _load(url: str, server_name: str | None = None) -> Traffic:
    """Two keep-alive clients at 40 req/s and one always in a 50 ms request."""
    return Traffic(url, clients=2, rate=40, slow_clients=1, slow_ms=50, timeout=2, server_name=server_name)


def test_traffic_over_https_to_a_named_site(tmp_path: Path) -> None:
    with local_site(tmp_path) as site, _load(f"https://127.0.0.1:{site.port}", SITE) as load:
        time.sleep(0.5)
    records = load.stop()
    assert len(records) >= 10
    assert failures(records) == [], describe_failures(records)
    assert {r.color for r in records} == {"green"}
    assert any(r.slow for r in records)
    assert set(site.seen.server_names) == {SITE}
    assert set(site.seen.hosts) == {f"{SITE}:{site.port}"}
    assert len(site.seen.server_names) == 3  # keep-alive: one connection per client


def test_plain_http_traffic_is_unchanged() -> None:
    with local_site() as site, _load(f"http://127.0.0.1:{site.port}") as load:
        time.sleep(0.3)
    records = load.stop()
    assert records and failures(records) == []
    assert set(site.seen.hosts) == {f"127.0.0.1:{site.port}"}  # http.client's own Host header


def test_a_redirect_is_a_failed_request_and_get_once_reads_it() -> None:
    with local_site(redirect=True) as site, _load(f"http://127.0.0.1:{site.port}") as load:
        time.sleep(0.2)
        status, headers = get_once(f"http://127.0.0.1:{site.port}", "/health", server_name=SITE)
    records = load.stop()
    assert records and [r.status for r in failures(records)] == [301] * len(records)
    assert (status, headers["location"]) == (301, f"https://{SITE}/health")
    assert f"{SITE}:{site.port}" in site.seen.hosts  # the traffic's requests send 127.0.0.1:port


# ---- clients that never retry, and POST clients ------------------------------------------------------


class _IdleClosingHandler(BaseHTTPRequestHandler):
    """Keep-alive, but a connection idle for `timeout` seconds is closed by the server: what nginx's
    old workers do to idle client connections at a reload. Records the POST bodies it read."""

    protocol_version = "HTTP/1.1"
    timeout = 0.1
    server: _RecordingServer

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.client_address)

    def do_GET(self) -> None:
        self._answer(b"hello")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(body)
        self._answer(json.dumps({"received": len(body)}).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-App-Color", "blue")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _KeepAliveHandler(_IdleClosingHandler):
    timeout = 60.0  # never idle that long in a test


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True
    bodies: list[bytes]
    connections: set[tuple[str, int]]


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, _RecordingServer]]:
    server = _RecordingServer(("127.0.0.1", 0), handler)
    server.bodies, server.connections = [], set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def _paced(url: str, **options: Any) -> list[Record]:
    """One client paced at 4 req/s (its connection idles 0.25 s between requests: long enough for
    the server to close it) for about 1.2 s."""
    with Traffic(url, clients=1, rate=4, slow_clients=0, timeout=2, **options) as load:
        time.sleep(1.2)
    return load.stop()


def test_a_client_that_never_retries_records_the_closed_keepalive_connection_as_an_error() -> None:
    with _serving(_IdleClosingHandler) as (url, _):
        records = _paced(url, retry=False)
    assert len(records) >= 4
    bad = failures(records)
    # A reused connection is always found closed; the error drops it, so the next one is new.
    assert [r.ok for r in records[:4]] == [True, False, True, False], describe_failures(records)
    assert all(r.error.startswith(f"{CLOSED_KEEPALIVE}: ") for r in bad), [r.error for r in bad]
    assert {r.error.partition(": ")[2] for r in bad} <= {e.__name__ for e in CLOSED_CONNECTION}
    assert all(r.closed_keepalive and not r.retried and r.status == 0 for r in bad)
    assert not any(r.closed_keepalive for r in records if r.ok)


def test_by_default_the_closed_keepalive_connection_is_retried_and_counted() -> None:
    with _serving(_IdleClosingHandler) as (url, _):
        records = _paced(url)
    assert len(records) >= 4
    assert failures(records) == [], describe_failures(records)
    assert [r.retried for r in records[:3]] == [False, True, True]  # every reuse meets a closed one
    assert all(r.closed_keepalive == r.retried for r in records)


def test_other_errors_are_not_closed_keepalive_connections() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connections are refused
        records = _paced(f"http://127.0.0.1:{port}", retry=False)
    assert records and all(r.error == "ConnectionRefusedError" for r in records)
    assert not any(r.closed_keepalive for r in records)


def test_post_clients_send_json_on_keepalive_connections_and_get_200() -> None:
    with _serving(_KeepAliveHandler) as (url, server):
        with Traffic(url, clients=1, rate=20, slow_clients=0, timeout=2, post_clients=2) as load:
            time.sleep(0.5)
        records = load.stop()
    posts = [r for r in records if r.method == "POST"]
    assert len(posts) >= 10 and failures(records) == [], describe_failures(records)
    assert {r.method for r in records} == {"GET", "POST"} and {r.color for r in posts} == {"blue"}
    assert len(server.bodies) == len(posts)
    assert {json.loads(body)["client"] for body in server.bodies} == {0, 1}
    assert len(server.connections) == 3  # keep-alive: one connection per client


def test_a_post_is_never_retried_even_by_clients_that_retry() -> None:
    with _serving(_IdleClosingHandler) as (url, server):
        records = _paced(url, post_clients=1)
    posts = [r for r in records if r.method == "POST"]
    assert len(posts) >= 4
    assert [r.ok for r in posts[:4]] == [True, False, True, False], describe_failures(posts)
    assert all(r.error.startswith(f"{CLOSED_KEEPALIVE}: ") and not r.retried for r in failures(posts))
    assert failures([r for r in records if r.method == "GET"]) == []  # GETs are retried
    assert len(server.bodies) == sum(r.ok for r in posts)  # a failed POST never reached the app


def test_post_clients_against_the_demo_app_get_200_with_the_body_length() -> None:
    demo = _demo_app()
    with _serving(demo.Handler) as (url, _):
        with Traffic(url, clients=2, rate=40, slow_clients=0, timeout=2, post_clients=2) as load:
            time.sleep(0.5)
        records = load.stop()
        answers = [_post(url, path, b'{"a": 1}') for path in ("/echo", "/", "/nowhere")]
    posts = [r for r in records if r.method == "POST"]
    assert len(posts) >= 10 and failures(records) == [], describe_failures(records)
    assert {(r.color, r.version) for r in records} == {("none", "dev")}
    body = {"version": "dev", "color": "none", "received": 8}
    assert answers == [(200, body), (200, body), (404, {"error": "not found"})]


def _post(url: str, path: str, body: bytes) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=2)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _demo_app() -> Any:
    """lab/images/demo_app/demo_app.py as a module (its environment: version dev, color none)."""
    path = Path(__file__).parents[2] / "lab" / "images" / "demo_app" / "demo_app.py"
    spec = importlib.util.spec_from_file_location("lab_demo_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
