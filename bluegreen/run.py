"""One run from raw inputs to a Result: validate, connect, run the command, disconnect."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bluegreen.config import parse_inputs
from bluegreen.deploy import Result, run_command
from bluegreen.progress import Reporter
from bluegreen.ssh import HostKeyCheck, connect


def execute(raw_inputs: Mapping[str, str], reporter: Reporter, workspace: Path = Path(".")) -> Result:
    config = parse_inputs(raw_inputs, workspace)
    if config.insecure_skip_host_key_check:
        reporter.warning("insecure-skip-host-key-check is true: the server's identity is NOT verified")
    check = HostKeyCheck(
        known_hosts=config.known_hosts,
        fingerprint=config.host_fingerprint,
        insecure=config.insecure_skip_host_key_check,
    )
    host = connect(config.host, config.port, config.username, config.ssh_key, check, config.connect_timeout)
    try:
        return run_command(config, host, reporter)
    finally:
        host.close()
