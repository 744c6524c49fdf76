"""The health gate: the new color passes only when its health path answers 2xx through the SSH
connection and its compose healthchecks pass; a container that exits or crash-loops fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bluegreen.containers import logs_tail, project_states, run_healthcheck
from bluegreen.docker_state import ContainerState, startup_verdict
from bluegreen.errors import BluegreenError
from bluegreen.health import Answer, backoff, http_get
from bluegreen.host import Host
from bluegreen.progress import Reporter
from bluegreen.untrusted import printable

LOG_LINES = 15


@dataclass(frozen=True)
class Probe:
    """An HTTP GET of a path on the host's 127.0.0.1:port, through the SSH connection."""

    host: Host
    timeout: float = 5.0

    def get(self, port: int, path: str) -> Answer | str:
        """The answer, or why there was none."""
        try:
            return http_get(lambda: self.host.connect_tcp(port, self.timeout), path, self.timeout)
        except BluegreenError:
            raise  # the connection itself failed: not a probe result
        except Exception as exc:  # OSError, EOFError, and http.client's own hierarchy
            return f"{type(exc).__name__}: {printable(str(exc), 500)}" if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class HealthGate:
    host: Host
    report: Reporter
    health_path: str
    timeout: float
    logs_hint: Callable[[str], str]

    def wait(
        self, color: str, project: str, port: int, also_check: Callable[[], None]
    ) -> list[ContainerState]:
        """Wait until the color is healthy; returns its containers' states. `also_check` runs each
        round (a rejected nginx config fails the deploy now, not after the app has started)."""
        deadline = time.monotonic() + self.timeout
        probe = Probe(self.host)
        last = "no probe yet"
        for delay in backoff(0.05, 1.5, 0.15):
            also_check()
            states = project_states(self.host.docker(), project)
            verdict = startup_verdict(states)
            if verdict.fatal:
                raise BluegreenError(
                    f"{color} did not start: {verdict.fatal}{self._logs(verdict.failed_container, project)}"
                )
            answer = probe.get(port, self.health_path)
            healthy = isinstance(answer, Answer) and answer.ok
            if healthy and (verdict.waiting is None or self._healthchecks_pass(states)):
                self.report.info(f"{color} healthy: GET {self.health_path} -> {answer}")
                return states
            probed = f"HTTP {answer.status}" if isinstance(answer, Answer) else answer
            last = f"{probed}; {verdict.waiting}" if verdict.waiting else probed
            if time.monotonic() + delay > deadline:
                raise BluegreenError(
                    f"{color} was not healthy within {self.timeout:g} s (health-timeout): "
                    f"GET 127.0.0.1:{port}{self.health_path}: {last}{self.logs_hint(project)}"
                )
            time.sleep(delay)
        raise AssertionError("unreachable: backoff never ends")

    def _logs(self, container_id: str | None, project: str) -> str:
        tail = logs_tail(self.host.docker(), container_id, LOG_LINES) if container_id else ""
        if not tail:
            return self.logs_hint(project)
        return f"; its last log lines:\n{printable(tail)}"

    def _healthchecks_pass(self, states: list[ContainerState]) -> bool:
        """Docker runs a compose healthcheck only every `interval` (30 s by default); while it still
        says "starting", run the same check now. "unhealthy" is never overruled."""
        serving = [s for s in states if not s.finished_task]
        if any(s.status != "running" or s.health == "unhealthy" for s in serving):
            return False
        starting = [s for s in serving if s.health == "starting"]
        if all(run_healthcheck(self.host.docker(), s) for s in starting):
            self.report.info(f"compose healthcheck passed in {len(starting)} container(s) (run by bluegreen)")
            return True
        return False
