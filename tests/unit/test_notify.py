"""Notifications: a real HTTP server in the test receives them. The body is checked field by field
for a success, a failure and a cancelled run (the last two through run.execute itself); 5xx and
connection errors are retried; a webhook that never answers is a warning, never a failed run."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bluegreen.deploy import Result
from bluegreen.errors import Cancelled, Failure, InputError
from bluegreen.notify import Notice, Webhook, parse_webhook, run_url, send
from bluegreen.run import execute
from tests.unit.test_config import KEY
from tests.unit.test_routine_failures import Recorder

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/shop", "GITHUB_RUN_ID": "42"}


@dataclass
class Received:
    statuses: list[int]
    """What to answer, one per request (the last one repeats)."""
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request["body"] for request in self.requests]


class _Hook(BaseHTTPRequestHandler):
    server: _HookServer

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        received = self.server.received
        received.requests.append(
            {"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(data)}
        )
        status = received.statuses[min(len(received.requests), len(received.statuses)) - 1]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _HookServer(ThreadingHTTPServer):
    daemon_threads = True
    received: Received


def hook_server(*statuses: int) -> tuple[_HookServer, str]:
    server = _HookServer(("127.0.0.1", 0), _Hook)
    server.received = Received(list(statuses))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/secret-token"


@pytest.fixture
def hook() -> Iterator[tuple[Received, str]]:
    server, url = hook_server(200)
    yield server.received, url
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (its backlog holds them)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["hooks.slack.com/services/x", "ftp://example.com/x", "https://", "http://a b/"]
)
def test_a_webhook_url_that_is_not_http_is_one_error_that_never_shows_it(url: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_webhook(url, 10.0)
    assert (caught.value.input_name, caught.value.problem) == ("webhook-url", "is not an http(s) URL")
    assert url not in caught.value.problem


def test_the_url_is_never_in_the_webhooks_repr() -> None:
    webhook = parse_webhook(f" {SLACK} ", 3.0)
    assert webhook == Webhook(SLACK, 3.0) and "secret" not in repr(webhook)
    assert parse_webhook("", 3.0) is None


def test_the_run_url_comes_from_githubs_variables() -> None:
    assert run_url(GITHUB) == "https://github.com/org/shop/actions/runs/42"
    assert run_url({}) == ""


# ---- the body, field by field ----------------------------------------------------------------------


def notice(url: str, recorder: Recorder, timeout: float = 5.0, **raw: str) -> Notice:
    inputs = {
        "command": "deploy",
        "app-name": "shop",
        "host": "203.0.113.7",
        "image": "ghcr.io/org/shop:2",
        **raw,
    }
    return Notice(
        Webhook(url, timeout), inputs, recorder, lambda text: text, environ=GITHUB, deploy_id="abc123"
    )


def test_a_success_posts_every_field_and_a_text_line(hook: tuple[Received, str]) -> None:
    received, url = hook
    recorder = Recorder()
    result = Result("deploy", "deployed", "shop", "green", "blue", "ghcr.io/org/shop:2", 12.3)

    notice(url, recorder).succeeded(result)

    (request,) = received.requests
    assert (request["path"], request["type"]) == ("/hooks/T000/secret-token", "application/json")
    sent = request["body"]
    assert 0 <= sent.pop("duration_seconds") < 5
    assert sent == {
        "text": sent["text"],
        "status": "deployed",
        "command": "deploy",
        "app": "shop",
        "color_before": "blue",
        "color_after": "green",
        "image": "ghcr.io/org/shop:2",
        "failed_phase": "",
        "error": "",
        "hosts": ["203.0.113.7"],
        "deploy_id": "abc123",
        "run_url": "https://github.com/org/shop/actions/runs/42",
    }
    assert sent["text"].startswith(
        "bluegreen deploy of `shop` on 203.0.113.7: *deployed* (blue → green, image "
        "`ghcr.io/org/shop:2`) after "
    )
    assert sent["text"].endswith(" s (https://github.com/org/shop/actions/runs/42)")
    assert recorder.infos == ["notification sent (HTTP 200)"] and recorder.warnings == []


def raw_inputs(url: str, port: int, **more: str) -> dict[str, str]:
    return {
        "command": "rollback",  # needs no compose file
        "host": "127.0.0.1",
        "port": str(port),
        "username": "deploy",
        "ssh-key": KEY,
        "insecure-skip-host-key-check": "true",
        "connect-timeout": "2",
        "app-name": "shop",
        "webhook-url": url,
        **more,
    }


def test_a_failed_run_posts_the_failed_phase_and_the_error_line(
    hook: tuple[Received, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    received, url = hook
    for name, value in GITHUB.items():
        monkeypatch.setenv(name, value)
    recorder = Recorder()

    with pytest.raises(Failure) as caught:
        execute(raw_inputs(url, closed_port()), recorder, Path("."))

    (sent,) = received.bodies
    assert sent["error"] == str(caught.value).splitlines()[0] and "refused" in sent["error"]
    assert {k: v for k, v in sent.items() if k not in ("text", "error", "duration_seconds", "deploy_id")} == {
        "status": "failed",
        "command": "rollback",
        "app": "shop",
        "color_before": "",
        "color_after": "",
        "image": "",
        "failed_phase": "connect",
        "hosts": ["127.0.0.1"],
        "run_url": "https://github.com/org/shop/actions/runs/42",
    }
    assert f"deploy id {sent['deploy_id']} (in the notification sent at the end)" in recorder.infos
    assert sent["text"] == (
        f"bluegreen rollback of `shop` on 127.0.0.1: *failed* (in connect: {sent['error']}; the serving "
        f"color is unknown) after {sent['duration_seconds']:.1f} s (https://github.com/org/shop/actions/runs/42)"
    )
    assert url not in " ".join(recorder.infos + recorder.warnings)


def test_a_run_with_a_bad_input_still_notifies(hook: tuple[Received, str]) -> None:
    received, url = hook
    with pytest.raises(InputError):
        execute(raw_inputs(url, 22, **{"app-name": "Shop!"}), Recorder(), Path("."))
    (sent,) = received.bodies
    assert (sent["status"], sent["failed_phase"], sent["app"]) == ("failed", "inputs", "Shop!")
    assert sent["error"].startswith("input 'app-name': is 'Shop!'")


def test_a_cancelled_run_notifies_with_status_cancelled(hook: tuple[Received, str], silent_port: int) -> None:
    received, url = hook
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        started = time.monotonic()
        with pytest.raises(Cancelled):
            execute(raw_inputs(url, silent_port, **{"connect-timeout": "30"}), Recorder(), Path("."))
        took = time.monotonic() - started
    finally:
        timer.cancel()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    (sent,) = received.bodies
    assert (sent["status"], sent["failed_phase"], sent["error"]) == (
        "cancelled",
        "connect",
        "cancelled by signal SIGINT",
    )
    assert (
        "*cancelled* (in connect: cancelled by signal SIGINT; the serving color is unknown)" in sent["text"]
    )
    assert took < 3


def test_status_sends_nothing(hook: tuple[Received, str]) -> None:
    received, url = hook
    with pytest.raises(Failure):
        execute(raw_inputs(url, closed_port(), command="status"), Recorder(), Path("."))
    assert received.requests == []


# ---- delivery ---------------------------------------------------------------------------------------


def test_two_5xx_answers_then_200_make_three_requests() -> None:
    server, url = hook_server(500, 503, 200)
    recorder = Recorder()
    delivery = send(Webhook(url, 5.0), {"text": "x"}, recorder, delays=(0.05, 0.05, 0.05))
    server.shutdown()
    server.server_close()
    assert (delivery.delivered, delivery.attempts, len(server.received.requests)) == (True, 3, 3)
    assert recorder.warnings == []


def test_a_5xx_every_time_is_tried_four_times_then_a_warning() -> None:
    server, url = hook_server(502)
    recorder = Recorder()
    delivery = send(Webhook(url, 5.0), {"text": "x"}, recorder, delays=(0.05, 0.05, 0.05))
    server.shutdown()
    server.server_close()
    assert (delivery.delivered, len(server.received.requests)) == (False, 4)
    assert recorder.warnings == [
        "the notification was not delivered (HTTP 502, 4 attempt(s)); the run's result stands. "
        "Check `webhook-url`"
    ]


def test_a_4xx_is_not_retried() -> None:
    server, url = hook_server(404)
    recorder = Recorder()
    send(Webhook(url, 5.0), {"text": "x"}, recorder, delays=(0.05, 0.05, 0.05))
    server.shutdown()
    server.server_close()
    assert len(server.received.requests) == 1 and "HTTP 404, 1 attempt(s)" in recorder.warnings[0]


def test_a_webhook_that_never_answers_is_a_warning_and_the_deploy_stands(silent_port: int) -> None:
    recorder = Recorder()
    url = f"http://127.0.0.1:{silent_port}/hook"
    result = Result("deploy", "deployed", "shop", "green", "blue", "", 1.0)
    started = time.monotonic()
    notice(url, recorder, timeout=0.3).succeeded(result)  # returns: the run's result stands
    took = time.monotonic() - started
    (warning,) = recorder.warnings
    assert warning.startswith("the notification was not delivered (TimeoutError: timed out, 4 attempt(s))")
    assert url not in warning
    assert 0.3 * 4 + 3.5 <= took < 8  # 4 attempts of webhook-timeout, 3 backoff delays


def test_a_cancelled_runs_notification_keeps_within_its_budget(silent_port: int) -> None:
    recorder = Recorder()
    started = time.monotonic()
    notice(f"http://127.0.0.1:{silent_port}/", recorder, timeout=10.0).failed(
        Cancelled("cancelled by signal SIGINT"), ""
    )
    assert time.monotonic() - started < 5.5
    assert len(recorder.warnings) == 1
