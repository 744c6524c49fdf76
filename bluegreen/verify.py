"""Verification through the proxy: after a switch, nginx must answer 2xx from the new color."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bluegreen.errors import BluegreenError
from bluegreen.health import Answer, backoff
from bluegreen.health_gate import Probe
from bluegreen.progress import Reporter

VERIFY_TIMEOUT = 5.0
UPSTREAM_HEADER = "x-bluegreen-upstream"


@dataclass(frozen=True)
class ProxyCheck:
    probe: Probe
    report: Reporter
    proxy_port: int
    path: str
    timeout: float = VERIFY_TIMEOUT

    def expect_upstream(self, upstream_port: int) -> None:
        """Wait until a GET through nginx answers 2xx from 127.0.0.1:upstream_port (the
        X-Bluegreen-Upstream header, when the template sets it), or fail."""
        expected = f":{upstream_port}"
        deadline = time.monotonic() + self.timeout
        last = "no answer yet"
        for delay in backoff(0.05):
            answer = self.probe.get(self.proxy_port, self.path)
            if isinstance(answer, Answer):
                upstream = answer.headers.get(UPSTREAM_HEADER)
                if answer.ok and (upstream is None or upstream.endswith(expected)):
                    via = f" from upstream {upstream}" if upstream else ""
                    self.report.info(f"nginx answers {answer.status}{via}")
                    return
                last = f"HTTP {answer.status}" + (f" from upstream {upstream}" if upstream else "")
            else:
                last = answer
            if time.monotonic() + delay > deadline:
                raise BluegreenError(
                    f"verification through nginx (127.0.0.1:{self.proxy_port}{self.path}) failed "
                    f"after the switch: {last}"
                )
            time.sleep(delay)

    def serving_color(self, ports: dict[str, int]) -> str | None:
        """The color nginx answers from now (by its upstream header), if it answers and says."""
        try:
            answer = self.probe.get(self.proxy_port, self.path)
        except BluegreenError:  # no tunnel to ask through: the config file and the records decide
            return None
        upstream = answer.headers.get(UPSTREAM_HEADER, "") if isinstance(answer, Answer) else ""
        port = upstream.rpartition(":")[2]
        return next((color for color, p in ports.items() if port == str(p)), None)
