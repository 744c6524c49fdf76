"""The start-up step's pure parts and its relay: no lab, no Docker."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from bench import report
from bench.run import dump, load_dump
from bench.startup import FirstByteRelay, docker_run_argv, input_env, known_hosts_for_port
from bench.stats import Startup, StartupSample, startup_target, summarize_startup
from tests.bench.test_report import _raw


def _startup(*seconds: float | None, exit_code: int = 0) -> Startup:
    samples = tuple(StartupSample(s, exit_code, "SSH-2.0-paramiko_5.1.0") for s in seconds)
    return Startup("bluegreen-action:lab", "sha256:abc", 226_009_096, "status", "bench", samples)


def test_the_startup_summary_takes_the_median_min_and_max_and_the_image_size_in_mb() -> None:
    summary = summarize_startup(_startup(0.9, 0.5, 1.4, 0.7, 0.6))
    assert (summary["median_seconds"], summary["min_seconds"], summary["max_seconds"]) == (0.7, 0.5, 1.4)
    assert summary["image_size_mb"] == 226.0 and summary["samples"] == 5 and summary["holds"]
    target = startup_target(summary)
    assert target.holds and target.measured == "0.7 s" and target.limit == "<= 1 s"
    assert target.margin == "0.3 s under (70% of the limit)"


def test_the_startup_target_is_the_median_and_is_never_relaxed() -> None:
    summary = summarize_startup(_startup(0.5, 1.01, 1.2))
    assert summary["median_seconds"] == 1.01 and not summary["holds"]
    assert not startup_target(summary).holds
    assert summarize_startup(_startup(0.5, 1.0, 1.9))["holds"]  # exactly 1 s holds


def test_a_run_that_sends_no_ssh_packet_fails_the_target() -> None:
    summary = summarize_startup(_startup(0.5, None, 0.6))
    assert summary["no_ssh_packet"] == 1 and summary["median_seconds"] == 0.55 and not summary["holds"]
    target = startup_target(summary)
    assert not target.holds and "1 of 3 runs sent no SSH packet" in target.measured
    nothing = summarize_startup(_startup(None))
    assert nothing["median_seconds"] is None and not startup_target(nothing).holds


def test_the_report_has_the_startup_row_and_target_and_the_dump_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report, "machine", lambda: {"cpu": "t", "cores": 2, "memory_gb": 1.0, "kernel": "k",
                                                      "python": "3.11", "docker": "-"})  # fmt: skip
    raw = _raw()
    assert "startup" not in report.markdown(report.build(raw)).lower().split("## definitions")[0]
    raw = type(raw)(**{**raw.__dict__, "startup": _startup(0.8, 0.6, 1.1, exit_code=1)})
    doc = report.build(raw)
    assert doc["startup"]["median_seconds"] == 0.8
    assert doc["targets"][-1]["name"].startswith("action image: docker run -> first SSH packet")
    text = report.markdown(doc)
    assert "| `bluegreen-action:lab` | 226.0 | 3 | 0.80 | 0.60 | 1.10 | median <= 1 s | yes |" in text
    assert "Every run (s): 0.80, 0.60, 1.10. Runs that did not exit 0: 3 (exit codes [1, 1, 1])." in text
    dump(raw, tmp_path / "run.json.gz")
    assert load_dump(tmp_path / "run.json.gz").startup == raw.startup


def test_the_runner_environment_and_known_hosts_for_the_relay() -> None:
    env = input_env({"command": "status", "ssh-key": "s3cr3t"})
    assert env["INPUT_COMMAND"] == "status" and env["INPUT_SSH-KEY"] == "s3cr3t" and "INPUT_APP-NAME" in env
    argv = docker_run_argv("img", Path("/w"), Path("/f"), ["INPUT_HOST"])
    assert argv[:3] == ["docker", "run", "--rm"] and argv[-3:] == ["-e", "INPUT_HOST", "img"]
    assert "s3cr3t" not in " ".join(docker_run_argv("img", Path("/w"), Path("/f"), list(env)))
    text = "[127.0.0.1]:22220 ssh-ed25519 AAAA\n[127.0.0.1]:22221 ssh-ed25519 BBBB\n"
    assert known_hosts_for_port(text, "127.0.0.1", 22220, 40001) == "[127.0.0.1]:40001 ssh-ed25519 AAAA\n"


def test_the_relay_notes_the_first_byte_and_passes_everything_both_ways() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:

        def echo() -> None:
            connection, _ = server.accept()
            with connection:
                while data := connection.recv(1024):
                    connection.sendall(data.upper())

        threading.Thread(target=echo, daemon=True).start()
        relay = FirstByteRelay(("127.0.0.1", server.getsockname()[1]))
        try:
            assert relay.wait(0.01) is None
            before = time.monotonic()
            with socket.create_connection(("127.0.0.1", relay.port)) as client:
                client.sendall(b"SSH-2.0-test\r\n")
                assert client.recv(1024) == b"SSH-2.0-TEST\r\n"
                client.sendall(b"more")
                assert client.recv(1024) == b"MORE"
            arrived = relay.wait(1)
            assert arrived is not None and before <= arrived <= time.monotonic()
            assert relay.first_bytes == b"SSH-2.0-test\r\n"
        finally:
            relay.close()
