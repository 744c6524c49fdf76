"""`smoke-paths`: parsed into one error per bad line, made on the new color through the host's
connection (a real local HTTP server here), and a mismatch stops the deploy before the switch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bluegreen.config import parse_inputs
from bluegreen.deploy import run_command
from bluegreen.errors import BluegreenError, InputError
from bluegreen.host import LocalHost
from bluegreen.smoke import SmokeCheck, SmokePath, parse_smoke_paths, run_smoke
from tests.unit.fake_host import FakeHost, routed_by
from tests.unit.test_config import good
from tests.unit.test_routine_failures import (
    BLUE,
    GREEN,
    IMAGE,
    LIVE_CONFIG,
    STATE,
    Recorder,
    deployed,
    fake,
    workspace,
)

__all__ = ["fake", "workspace"]  # fixtures

SECRET = "s3cr3t-token-value"


def test_lines_are_parsed_with_their_defaults() -> None:
    text = "\n# comment\n/health\nPOST /api/orders 201\nget /search?q=a%20b ~ results for a b\nHEAD / 204\n"
    assert parse_smoke_paths(text) == (
        SmokePath("GET", "/health", None, ""),
        SmokePath("POST", "/api/orders", 201, ""),
        SmokePath("GET", "/search?q=a%20b", None, "results for a b"),
        SmokePath("HEAD", "/", 204, ""),
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("health", "line 2 has the path 'health'"),
        ("FETCH /x", "line 2 has the method 'FETCH'"),
        ("GET /x 600", "line 2 expects the status '600'"),
        ("GET /x 99", "line 2 expects the status '99'"),
        ("GET /x ok", "line 2 expects the status 'ok'"),
        ("GET /x 200 ~", "line 2 has `~` but no text after it"),
        ("GET /x 200 extra", "line 2 is 'GET /x 200 extra'"),
        ("GET /a b", "line 2 expects the status 'b'"),
    ],
)
def test_a_bad_line_is_one_error_naming_the_input_and_the_line(line: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_smoke_paths(f"/ok\n{line}\n")
    assert caught.value.input_name == "smoke-paths"
    assert caught.value.problem == problem


class _App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/api/items":
            self._answer(200, b'{"items": [1, 2]}')
        elif self.path == "/boom":
            self._answer(500, f"Traceback: KeyError \x1b[31m{SECRET}\x1b[0m ".encode() + b"x" * 300)
        elif self.path == "/hang":
            time.sleep(2)
            self._answer(200, b"late")
        else:
            self._answer(404, b"not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "-1"))
        self._answer(201 if length == 0 else 411, b"created")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # /hang writes after the client gave up


@pytest.fixture
def app_port() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_good_smoke_paths_pass_and_each_is_one_log_line(app_port: int) -> None:
    recorder = Recorder()
    paths = parse_smoke_paths("GET /api/items 200 ~ items\nPOST /orders 201\n/missing 404 ~ not found")
    checks = run_smoke(LocalHost(), "green", app_port, paths, 5.0, recorder)
    assert [(c.method, c.path, c.answer, c.ok) for c in checks] == [
        ("GET", "/api/items", "HTTP 200", True),
        ("POST", "/orders", "HTTP 201", True),
        ("GET", "/missing", "HTTP 404", True),
    ]
    assert [line.split(" in ")[0] for line in recorder.infos] == [
        "smoke: GET /api/items -> HTTP 200",
        "smoke: POST /orders -> HTTP 201",
        "smoke: GET /missing -> HTTP 404",
    ]
    assert all(line.endswith(" ms: ok") for line in recorder.infos)


def test_a_mismatch_is_one_error_with_the_path_the_status_and_the_bodys_start(app_port: int) -> None:
    recorder = Recorder()
    paths = parse_smoke_paths("/api/items ~ orders\n/boom\n/api/items")
    with pytest.raises(BluegreenError) as caught:
        run_smoke(LocalHost(), "green", app_port, paths, 5.0, recorder)
    message = str(caught.value)
    assert message.startswith(
        "smoke test failed on green at localhost, before the switch (nginx was not touched): "
        "GET /api/items answered HTTP 200, expected 2xx ~ 'orders'; body: {\"items\": [1, 2]} "
        "(1 more smoke path(s) failed, see the log)"
    ), message
    assert len(recorder.warnings) == 2 and len(recorder.infos) == 1  # every path was made
    boom = recorder.warnings[1]
    assert boom.startswith("smoke: GET /boom -> HTTP 500 in "), boom


def test_the_body_shown_is_its_first_200_bytes_without_control_characters(app_port: int) -> None:
    with pytest.raises(BluegreenError) as caught:
        run_smoke(LocalHost(), "green", app_port, parse_smoke_paths("/boom"), 5.0, Recorder())
    body = str(caught.value).split("; body: ", 1)[1]
    assert body.startswith(f"Traceback: KeyError {SECRET} xxx")  # escape sequences dropped whole
    assert len(body) == 200 - len("\x1b[31m\x1b[0m")


def test_a_path_that_does_not_answer_in_smoke_timeout_fails(app_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(BluegreenError) as caught:
        run_smoke(LocalHost(), "green", app_port, parse_smoke_paths("/hang"), 0.5, Recorder())
    assert time.monotonic() - started < 1.5
    assert "GET /hang answered no answer (TimeoutError: timed out), expected 2xx" in str(caught.value)


def test_a_secret_in_the_body_never_reaches_the_error(app_port: int, workspace: Path) -> None:
    from bluegreen.run import Screen, secrets_of

    with pytest.raises(BluegreenError) as caught:
        run_smoke(LocalHost(), "green", app_port, parse_smoke_paths("/boom"), 5.0, Recorder())
    screen = Screen(secrets_of({"env": f"API_TOKEN={SECRET}"}))
    screen.error(caught.value)  # what run.execute does to every error
    assert SECRET not in str(caught.value) and "***" in str(caught.value)


# ---- in the routine (the fake host's colors answer 200 "ok" on every path) -------------------------


def deploy_with(fake: FakeHost, workspace: Path, smoke: str, recorder: Recorder) -> object:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    raw = good(image=f"{IMAGE}:v2", **{"nginx-template": "", "smoke-paths": smoke}, **timing)
    return run_command(parse_inputs(raw, workspace), fake, recorder)


def test_a_failed_smoke_path_stops_the_deploy_before_the_switch(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    recorder = Recorder()

    with pytest.raises(BluegreenError) as caught:
        deploy_with(fake, workspace, "GET /api 201", recorder)

    assert str(caught.value).startswith(
        "smoke test failed on green at fake-host, before the switch (nginx was not touched): "
        "GET /api answered HTTP 200, expected 201; body: ok"
    )
    assert (caught.value.live_color, caught.value.target_color) == ("blue", "green")
    assert [name for name, ok in recorder.phases if not ok] == ["smoke"]
    assert ("health", True) in recorder.phases and "switch" not in [name for name, _ in recorder.phases]
    assert (fake.files[LIVE_CONFIG], fake.files[STATE]) == (config_before, state_before)
    assert routed_by(fake.files[LIVE_CONFIG]) == fake.proxy_route() == "blue"
    assert fake.engine.statuses(GREEN) == [] and fake.engine.statuses(BLUE) == ["running"]


def test_passing_smoke_paths_are_in_the_result(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    result = deploy_with(fake, workspace, "/ ~ ok\nPOST /orders", Recorder())
    assert [(c.method, c.path, c.expected, c.answer, c.ok) for c in result.smoke] == [  # type: ignore[attr-defined]
        ("GET", "/", "2xx ~ 'ok'", "HTTP 200", True),
        ("POST", "/orders", "2xx", "HTTP 200", True),
    ]
    assert all(isinstance(c, SmokeCheck) for c in result.smoke)  # type: ignore[attr-defined]


def test_a_rollback_makes_no_smoke_requests(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2")
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    raw = good(command="rollback", **{"nginx-template": "", "smoke-paths": "/x 201"}, **timing)
    recorder = Recorder()
    result = run_command(parse_inputs(raw, workspace), fake, recorder)
    assert result.status == "rolled-back" and result.smoke == ()
    assert "smoke" not in [name for name, _ in recorder.phases]
