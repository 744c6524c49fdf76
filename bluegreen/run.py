"""One run from raw inputs to a Result: validate, connect, run the command, disconnect."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from bluegreen.config import parse_inputs
from bluegreen.deploy import Result, run_command
from bluegreen.errors import BluegreenError
from bluegreen.progress import Reporter, Timer
from bluegreen.ssh import HostKeyCheck, connect


class Cancelled(BluegreenError):
    """The run was told to stop (SIGTERM: a cancelled workflow, `docker stop`)."""


def _cancel(signum: int, frame: FrameType | None) -> None:
    # Raised in the main thread wherever it is, so the routine's cleanup (tear down the new color,
    # or switch nginx back) runs before the process exits.
    raise Cancelled(f"cancelled by signal {signal.Signals(signum).name}")


def execute(raw_inputs: Mapping[str, str], reporter: Reporter, workspace: Path = Path(".")) -> Result:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _cancel)
    config = parse_inputs(raw_inputs, workspace)
    if config.insecure_skip_host_key_check:
        reporter.warning("insecure-skip-host-key-check is true: the server's identity is NOT verified")
    check = HostKeyCheck(
        known_hosts=config.known_hosts,
        fingerprint=config.host_fingerprint,
        insecure=config.insecure_skip_host_key_check,
    )
    timer = Timer(reporter)
    with timer.phase("connect"):
        host = connect(
            config.host, config.port, config.username, config.ssh_key, check, config.connect_timeout
        )
    try:
        return run_command(config, host, reporter, timer)
    finally:
        host.close()
