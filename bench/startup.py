"""The action's start-up (issue 13 item 5): from `docker run` of the action image to its first SSH
packet at the server, measured the way GitHub's runner starts a container action.

Each sample issues `docker run` of the image (lab.action_image.build_action_image) with the INPUT_*
variables of a `status` of a lab app, the workspace and the file-commands directory mounted, and
the SSH port pointed at a TCP relay in front of the lab's sshd: the relay notes when the first
byte of the first connection arrives, then passes everything through both ways, so the run
itself goes on to the real server (its known_hosts names the relay's port) and ends as usual.
The clock starts when the command is issued (just before the process is spawned).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.stats import Startup, StartupSample
from bluegreen.config import input_specs
from lab.action_image import image_id, image_size

WORKSPACE = "/github/workspace"
FILE_COMMANDS = "/github/file_commands"


def input_env(inputs: Mapping[str, str]) -> dict[str, str]:
    """INPUT_* as the runner sets them: every declared input, its default unless given."""
    values = {name: spec.default for name, spec in input_specs().items()}
    values.update(inputs)
    return {f"INPUT_{name.upper()}": value for name, value in values.items()}


def known_hosts_for_port(text: str, host: str, port: int, new_port: int) -> str:
    """The known_hosts lines of `[host]:port`, for `[host]:new_port` instead (the relay's port)."""
    old, new = f"[{host}]:{port} ", f"[{host}]:{new_port} "
    return "".join(line.replace(old, new, 1) + "\n" for line in text.splitlines() if line.startswith(old))


def docker_run_argv(image: str, workspace: Path, files: Path, names: list[str]) -> list[str]:
    """`docker run` as the runner does it; the input values travel in the environment."""
    argv = ["docker", "run", "--rm", "--network", "host", "--workdir", WORKSPACE]
    argv += ["-v", f"{workspace}:{WORKSPACE}", "-e", f"GITHUB_WORKSPACE={WORKSPACE}"]
    argv += ["-v", f"{files}:{FILE_COMMANDS}"]
    argv += [
        "-e",
        f"GITHUB_OUTPUT={FILE_COMMANDS}/output",
        "-e",
        f"GITHUB_STEP_SUMMARY={FILE_COMMANDS}/summary",
    ]
    argv += [arg for name in names for arg in ("-e", name)]
    return [*argv, image]


class FirstByteRelay:
    """A TCP listener in front of a server: relays every connection both ways and notes when the
    first byte of the first connection arrived (time.monotonic())."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.first_at: float | None = None
        self.first_bytes = b""
        self._arrived = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._sockets.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            data = client.recv(65536)
            if not self._arrived.is_set():
                self.first_at, self.first_bytes = time.monotonic(), data
                self._arrived.set()
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            self._sockets.append(upstream)
            upstream.sendall(data)
        except OSError:
            client.close()
            return
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def wait(self, timeout: float) -> float | None:
        """The moment the first byte arrived, or None if none did within `timeout` seconds."""
        return self.first_at if self._arrived.wait(timeout) else None

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def measure_startup(
    lab: dict[str, Any],
    image: str,
    app_name: str,
    samples: int,
    pause: float = 0.5,
    say: Any = print,
) -> Startup:
    """`samples` runs of `status` of `app_name` by the action image, one after another."""
    key = Path(lab["ssh_key_file"]).read_text()
    known_hosts = Path(lab["known_hosts_file"]).read_text()
    taken: list[StartupSample] = []
    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-startup-") as root:
        workspace, files = Path(root) / "workspace", Path(root) / "file_commands"
        (workspace / "deploy").mkdir(parents=True)
        files.mkdir()
        shutil.copy(lab["compose_file"], workspace / "deploy" / "compose.yml")
        shutil.copy(lab["nginx_template"], workspace / "deploy" / "nginx.conf.j2")
        for number in range(1, samples + 1):
            for name in ("output", "summary"):
                (files / name).write_text("")
            relay = FirstByteRelay((lab["host"], int(lab["port"])))
            try:
                inputs = {
                    "command": "status",
                    "host": lab["host"],
                    "port": str(relay.port),
                    "username": lab["username"],
                    "ssh-key": key,
                    "known-hosts": known_hosts_for_port(known_hosts, lab["host"], lab["port"], relay.port),
                    "app-name": app_name,
                    "compose-file": "deploy/compose.yml",
                    "nginx-template": "deploy/nginx.conf.j2",
                    "remote-dir": lab["remote_dir"],
                }
                env = input_env(inputs)
                argv = docker_run_argv(image, workspace, files, list(env))
                started = time.monotonic()
                with subprocess.Popen(
                    argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                ) as run:
                    arrived = relay.wait(timeout=60)
                    try:
                        output, _ = run.communicate(timeout=120)
                        exit_code: int | None = run.returncode
                    except subprocess.TimeoutExpired:
                        run.kill()
                        output, _ = run.communicate()
                        exit_code = None
            finally:
                relay.close()
            sample = StartupSample(
                None if arrived is None else arrived - started,
                exit_code,
                relay.first_bytes.split(b"\r\n")[0].decode("ascii", "replace"),
            )
            taken.append(sample)
            took = "no SSH packet" if sample.seconds is None else f"{sample.seconds:.3f} s"
            say(f"start-up {number}/{samples}: docker run -> first SSH packet {took} (exit {exit_code})")
            if exit_code != 0:
                say("start-up run's log (tail):\n" + output.decode(errors="replace")[-2000:])
            time.sleep(pause)
    return Startup(image, image_id(image), image_size(image), "status", app_name, tuple(taken))
