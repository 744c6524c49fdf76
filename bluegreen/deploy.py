"""A command (deploy, rollback, status) against its hosts, and its errors as the user sees them.

The routine is in phases, each a module that reads like the README's step list:
detect.py (preflight, lock, detect), prepare.py (upload.py, start_color.py, the health gate,
`nginx -t`, the release record), switch.py (move traffic, verify, move back), finish.py (record,
drain, stop the old color, clean up); fleet.py runs them across the hosts (one host is a fleet of
one; host_run.py: what the phases share on a host).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from bluegreen.config import Config
from bluegreen.errors import BluegreenError, Failure
from bluegreen.fleet import Fleet, HostReporter
from bluegreen.host import Host
from bluegreen.host_run import HostRun, color_compose
from bluegreen.progress import Reporter, Timer
from bluegreen.result import Result
from bluegreen.untrusted import printable

__all__ = ["Result", "color_compose", "docker_engine_error", "run_command"]


def run_command(
    config: Config, hosts: Host | Sequence[Host], reporter: Reporter, timer: Timer | None = None
) -> Result:
    """The command on every host (in the order of `hosts`; `host` is a fleet of one)."""
    connected: list[Host] = list(hosts) if isinstance(hosts, Sequence) else [hosts]
    timer = timer or Timer(reporter)
    several, stop, lock = len(connected) > 1, threading.Event(), threading.Lock()
    names = [str(address) for address in config.hosts] or [host.name for host in connected]
    runs = []
    for name, host in zip(names, connected, strict=False):
        host_reporter = HostReporter(reporter, name, several, stop, lock)
        if not several:
            timer.reporter = host_reporter  # the host's phases are the run's
        run = HostRun(config, host, host_reporter, None if several else timer)
        runs.append((name, run, host_reporter))
    fleet = Fleet(runs, timer)
    first = fleet.members[0].run
    commands_by_name: dict[str, Callable[[], Result]] = {
        "deploy": fleet.deploy,
        "rollback": fleet.rollback,
        "status": fleet.status,
        "promote": fleet.promote,
        "abort": fleet.abort,
    }
    try:
        return commands_by_name[config.command]()
    except Failure as exc:
        exc.live_color, exc.target_color = first.live or "", first.target or ""
        raise
    except Exception as exc:
        engine_error = docker_engine_error(exc, connected[0].name)
        if engine_error is None:
            raise
        engine_error.live_color, engine_error.target_color = first.live or "", first.target or ""
        raise engine_error from None
    finally:
        for member in fleet.members:
            member.run.close()


def docker_engine_error(exc: Exception, host_name: str) -> BluegreenError | None:
    """An error answer of the host's Docker engine, as one clear error (None for anything else)."""
    import docker.errors

    if not isinstance(exc, docker.errors.DockerException):
        return None
    return BluegreenError(f"the Docker engine on {host_name} answered with an error: {printable(str(exc))}")
