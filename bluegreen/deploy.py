"""A command (deploy, rollback, status) against its target, and its errors as the user sees them.

The routine is in phases, each a module that reads like the README's step list:
detect.py (preflight, lock, detect), prepare.py (upload.py, start_color.py, the health gate,
`nginx -t`, the release record), switch.py (move traffic, verify, move back), finish.py (record,
drain, stop the old color, clean up); target.py runs them on a host (host_run.py: what they share).
"""

from __future__ import annotations

from collections.abc import Callable

from bluegreen.config import Config
from bluegreen.errors import BluegreenError, Failure
from bluegreen.host import Host
from bluegreen.host_run import HostRun, color_compose
from bluegreen.progress import Reporter, Timer
from bluegreen.result import Result
from bluegreen.target import OneHost
from bluegreen.untrusted import printable

__all__ = ["Result", "color_compose", "docker_engine_error", "run_command"]


def run_command(config: Config, host: Host, reporter: Reporter, timer: Timer | None = None) -> Result:
    run = HostRun(config, host, reporter, timer)
    target = OneHost(run)
    commands_by_name: dict[str, Callable[[], Result]] = {
        "deploy": target.deploy,
        "rollback": target.rollback,
        "status": target.status,
        "promote": target.promote,
        "abort": target.abort,
    }
    try:
        return commands_by_name[config.command]()
    except Failure as exc:
        exc.live_color, exc.target_color = run.live or "", run.target or ""
        raise
    except Exception as exc:
        engine_error = docker_engine_error(exc, host.name)
        if engine_error is None:
            raise
        engine_error.live_color, engine_error.target_color = run.live or "", run.target or ""
        raise engine_error from None
    finally:
        run.close()


def docker_engine_error(exc: Exception, host_name: str) -> BluegreenError | None:
    """An error answer of the host's Docker engine, as one clear error (None for anything else)."""
    import docker.errors

    if not isinstance(exc, docker.errors.DockerException):
        return None
    return BluegreenError(f"the Docker engine on {host_name} answered with an error: {printable(str(exc))}")
