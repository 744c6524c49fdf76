"""Hostile strings in every input that reaches a remote command never change the command's meaning.

The remote shell parses the command line sshd hands it the way shlex does; so a command keeps its
meaning exactly when splitting the joined line gives back the argv that was built. Inputs are also
validated: whatever is accepted cannot escape the app's directory.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluegreen import commands
from bluegreen.colors import COLORS
from bluegreen.commands import COMPOSE_V1, COMPOSE_V2
from bluegreen.config import Config, parse_inputs
from bluegreen.deploy import color_compose
from bluegreen.errors import InputError
from bluegreen.layout import Layout
from bluegreen.records import Release
from bluegreen.render import proxy_compose
from tests.unit.test_config import KEY

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["a; reboot", "$(id)", "`id`", "a b", "../../etc", "x\ny", "'", '"', "a|b", "-rf", "~root"]
    ),
    st.builds(lambda a, b: a + b, st.sampled_from(["shop", "/srv", "reg/app:1", "~/"]), st.text(max_size=20)),
)


def all_remote_commands(config: Config, home: str = "/home/deploy") -> list[list[str]]:
    root = config.remote_dir.replace("~", home, 1)
    layout = Layout(f"{root}/{config.app_name}")
    argvs: list[list[str]] = [
        commands.make_dirs(layout.app_dir, layout.nginx_dir, layout.proxy_dir),
        commands.take_lock(layout.lock_file, config.lock_timeout),
        commands.remove(layout.next_config),
        commands.nginx_test_in_new_container(config.proxy_image, layout.nginx_dir, "/etc/bluegreen-nginx/x"),
        commands.nginx_test(f"{config.app_name}-proxy-nginx-1", "/etc/bluegreen-nginx/x"),
    ]
    for program in (COMPOSE_V2, COMPOSE_V1):
        for color in COLORS:
            env = {"BLUEGREEN_IMAGE": config.image, "BLUEGREEN_PORT": str(config.ports[color])}
            files = (f"{layout.files_dir(color, 'r1')}/compose.yml",)
            release = Release(color, "r1", files, env, config.image)
            project = color_compose(program, config.app_name, layout, release)
            argvs += [project.pull(), project.up(), project.stop(), project.down()]
    return argvs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    app_name=HOSTILE,
    remote_dir=HOSTILE,
    image=HOSTILE,
    proxy_image=HOSTILE,
    health_path=HOSTILE,
    port=HOSTILE,
)
def test_hostile_inputs_are_refused_or_keep_every_command_intact(
    tmp_path: Path, app_name: str, remote_dir: str, image: str, proxy_image: str, health_path: str, port: str
) -> None:
    (tmp_path / "compose.yml").write_text("services: {web: {image: x}}\n")
    (tmp_path / "nginx.conf.j2").write_text("events {}\n")
    raw = {
        "host": "example.com",
        "username": "deploy",
        "ssh-key": KEY,
        "known-hosts": "example.com ssh-ed25519 AAAA",
        "compose-file": "compose.yml",
        "nginx-template": "nginx.conf.j2",
        "app-name": app_name,
        "remote-dir": remote_dir,
        "image": image,
        "proxy-image": proxy_image or "nginx:1.27",
        "health-path": health_path or "/health",
        "blue-port": port or "8081",
    }
    try:
        config = parse_inputs(raw, tmp_path)
    except InputError:
        return
    assert "/" not in config.app_name and config.app_name not in (".", "..")
    assert ".." not in config.remote_dir.split("/")
    assert "\n" not in config.health_path and " " not in config.health_path
    for argv in all_remote_commands(config):
        assert shlex.split(shlex.join(argv)) == argv
        assert all(arg == arg.strip("\n") for arg in argv)
    proxy = yaml.safe_load(proxy_compose(config.proxy_image, "/d", config.app_name))
    assert proxy["services"]["nginx"]["image"] == config.proxy_image


@pytest.mark.parametrize("app_name", ["shop; reboot", "$(reboot)", "`reboot`", "../etc", "a b", "shop\nid"])
def test_shell_syntax_in_the_app_name_is_refused(tmp_path: Path, app_name: str) -> None:
    with pytest.raises(InputError, match="input 'app-name'"):
        parse_inputs(
            {"app-name": app_name, "host": "h", "username": "u", "ssh-key": KEY, "compose-file": "x"}
        )
