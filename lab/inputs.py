"""bluegreen's inputs for deploying an app to the lab: one place for the demo, the tests and the bench."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def deploy_inputs(
    lab: dict[str, Any],
    app_name: str,
    http_port: int,
    blue_port: int,
    green_port: int,
    compose_v1: bool = False,
) -> dict[str, str]:
    """The CLI's flags (input names, with `ssh-key-file` and `known-hosts-file`) for one lab app.

    Inputs not given keep the action's defaults.
    """
    return {
        "host": lab["host"],
        "port": str(lab["compose_v1_port"] if compose_v1 else lab["port"]),
        "username": lab["username"],
        "ssh-key-file": lab["ssh_key_file"],
        "known-hosts-file": lab["known_hosts_file"],
        "app-name": app_name,
        "compose-file": lab["compose_file"],
        "nginx-template": lab["nginx_template"],
        "remote-dir": lab["compose_v1_remote_dir"] if compose_v1 else lab["remote_dir"],
        "blue-port": str(blue_port),
        "green-port": str(green_port),
        "http-port": str(http_port),
        "proxy-image": lab["proxy_image"],
    }


def as_flags(values: dict[str, str]) -> list[str]:
    """The CLI's arguments: `--name value`, and for a true/false input the switch `--name` or
    `--no-name`."""
    from bluegreen.config import input_specs

    switches = {name for name, spec in input_specs().items() if spec.default in ("true", "false")}
    flags: list[str] = []
    for name, value in values.items():
        if name in switches:
            flags.append(f"--{name}" if value == "true" else f"--no-{name}")
        else:
            flags += [f"--{name}", value]
    return flags


def as_action_inputs(values: dict[str, str]) -> dict[str, str]:
    """The same as the action's inputs: file flags replaced by the files' contents."""
    inputs = {
        name: value for name, value in values.items() if not name.endswith("-file") or name == "compose-file"
    }
    inputs["ssh-key"] = Path(values["ssh-key-file"]).read_text()
    inputs["known-hosts"] = Path(values["known-hosts-file"]).read_text()
    return inputs
