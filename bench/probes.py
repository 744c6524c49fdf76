"""The two background measurers, each in its own process so neither fights the driver for the GIL:
the load (lab.traffic.Traffic through nginx) and the health prober (every color's port, directly).

Processes are spawned, not forked: the driver has threads (paramiko) by the time they stop, and a
fresh interpreter keeps the measurers independent of whatever the driver imported.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from bench.stats import DockerEvent, Probe
from lab.traffic import Record, Traffic

_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class LoadSettings:
    url: str
    clients: int
    rate: float
    slow_clients: int
    slow_ms: int
    retry: bool = True
    post_clients: int = 0


@dataclass(frozen=True)
class LoadResult:
    records: list[Record]
    started: float
    stopped: float
    cpu_seconds: float  # user + system time of the load process

    @property
    def cpu_percent(self) -> float:
        """Of one core, over the load's lifetime."""
        return 100 * self.cpu_seconds / max(self.stopped - self.started, 1e-9)


def _load_main(settings: LoadSettings, ready: Event, stop: Event, out: Connection) -> None:
    cpu_before = os.times()
    traffic = Traffic(
        settings.url, settings.clients, settings.rate, settings.slow_clients, settings.slow_ms, stagger=True,
        retry=settings.retry, post_clients=settings.post_clients,
    )  # fmt: skip
    started = time.monotonic()
    traffic.start()
    ready.set()
    stop.wait()
    stopped = time.monotonic()
    records = traffic.stop()
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    # Tuples pickle much smaller than dataclasses; tens of thousands of records cross the pipe.
    rows = [
        (r.start, r.end, r.status, r.error, r.color, r.version, r.slow, r.retried, r.method) for r in records
    ]  # fmt: skip
    out.send((rows, started, stopped, cpu))
    out.close()


def _probe_once(port: int, path: str, timeout: float) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        return 200 <= response.status < 300
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _prober_main(
    ports: tuple[int, ...], path: str, period: float, ready: Event, stop: Event, out: Connection
) -> None:
    rows: list[tuple[float, float, int, bool]] = []
    next_at = time.monotonic()
    ready.set()
    while not stop.is_set():
        for port in ports:
            start = time.monotonic()
            ok = _probe_once(port, path, timeout=min(period * 4, 1.0))
            rows.append((start, time.monotonic(), port, ok))
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.monotonic()
    out.send(rows)
    out.close()


class _Worker:
    def __init__(self, target: Any, args: tuple[Any, ...]) -> None:
        self._ready = _CONTEXT.Event()
        self._stop = _CONTEXT.Event()
        self._receive, send = _CONTEXT.Pipe(duplex=False)
        self._process = _CONTEXT.Process(
            target=target, args=(*args, self._ready, self._stop, send), daemon=True
        )
        self._process.start()
        send.close()
        self._name = target.__name__
        deadline = time.monotonic() + 60
        while not self._ready.wait(0.1):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError(f"{self._name} did not start (exit code {self._process.exitcode})")

    def finish(self, timeout: float = 60) -> Any:
        self._stop.set()
        deadline = time.monotonic() + timeout
        while not self._receive.poll(0.1):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError(f"{self._name} did not report back (exit code {self._process.exitcode})")
        data = self._receive.recv()
        self._process.join(10)
        return data

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()


class Load:
    """Traffic through nginx in a separate process, from start() until finish()."""

    def __init__(self, settings: LoadSettings) -> None:
        self._worker = _Worker(_load_main, (settings,))

    def finish(self) -> LoadResult:
        rows, started, stopped, cpu = self._worker.finish(timeout=120)
        return LoadResult([Record(*row) for row in rows], started, stopped, cpu)

    def kill(self) -> None:
        self._worker.kill()


class Prober:
    """Polls GET `path` on every port every `period` seconds, each on a fresh connection."""

    def __init__(self, ports: tuple[int, ...], path: str = "/health", period: float = 0.05) -> None:
        self._worker = _Worker(_prober_main, (ports, path, period))

    def finish(self) -> list[Probe]:
        return [Probe(*row) for row in self._worker.finish()]

    def kill(self) -> None:
        self._worker.kill()


class DockerEvents:
    """Container events of the given compose projects from this machine's engine (the lab server's
    docker CLI talks to it), in a thread: when a color's container started and when Docker's own
    healthcheck first called it healthy. Times are converted from the engine's clock to monotonic."""

    def __init__(self, projects: tuple[str, ...]) -> None:
        import docker

        self.events: list[DockerEvent] = []
        self._projects = set(projects)
        self._client = docker.from_env()
        self._offset = time.time() - time.monotonic()
        self._stream = self._client.events(decode=True, filters={"type": "container"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                attributes = (event.get("Actor") or {}).get("Attributes") or {}
                project = attributes.get("com.docker.compose.project", "")
                if project in self._projects:
                    at = int(event.get("timeNano", 0)) / 1e9 - self._offset
                    self.events.append(DockerEvent(at, project, str(event.get("Action", ""))))
        except Exception:  # the stream ends with an error when closed; events so far are kept
            return

    def finish(self) -> list[DockerEvent]:
        self._stream.close()
        self._thread.join(5)
        self._client.close()
        return sorted(self.events, key=lambda e: e.at)
