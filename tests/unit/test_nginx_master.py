"""Reading how the user's nginx was started (issue 17.7): nginx's own option rules, and the
argument boundaries its process title loses."""

from __future__ import annotations

import pytest

from bluegreen.nginx_master import NginxCommand, argv_from_title, parse_nginx_argv, running_command


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nginx", "-g", "daemon off;"], NginxCommand("nginx", directives="daemon off;")),
        (["nginx", "-c", "/etc/nginx/other.conf"], NginxCommand("nginx", config="/etc/nginx/other.conf")),
        (["nginx", "-c/etc/nginx/other.conf"], NginxCommand("nginx", config="/etc/nginx/other.conf")),
        (["nginx", "-qc", "o.conf", "-p", "/srv/ng/"], NginxCommand("nginx", "/srv/ng/", config="o.conf")),
        (["nginx", "-p/srv/ng", "-e", "stderr"], NginxCommand("nginx", "/srv/ng", "stderr")),
        (["nginx", "-c", "a.conf", "-c", "b.conf"], NginxCommand("nginx", config="b.conf")),
        (["/usr/sbin/nginx-debug", "-t"], NginxCommand("/usr/sbin/nginx-debug")),
    ],
)  # fmt: skip
def test_options_are_read_as_nginx_reads_them(argv: list[str], expected: NginxCommand) -> None:
    assert parse_nginx_argv(argv) == expected


def test_options_are_repeated_in_nginx_s_order_and_relative_paths_stay_relative() -> None:
    command = NginxCommand("nginx", "conf/", "logs/error.log", "other.conf", "daemon off; pid /tmp/p;")
    assert command.options() == ["-p", "conf/", "-e", "logs/error.log", "-c", "other.conf",
                                 "-g", "daemon off; pid /tmp/p;"]  # fmt: skip
    assert NginxCommand().options() == []


def test_the_started_argv_gives_the_boundaries_the_title_lost() -> None:
    started = ["/docker-entrypoint.sh", "nginx", "-c", "/etc/my nginx.conf", "-g", "daemon  off;"]
    title = "nginx -c /etc/my nginx.conf -g daemon  off;"
    assert argv_from_title(title, started) == started[1:]


def test_without_the_started_argv_words_that_are_no_option_continue_the_value() -> None:
    assert argv_from_title("nginx -c /etc/my nginx.conf -g daemon off; pid /tmp/p;", ["/bin/tini", "--"]) == [
        "nginx", "-c", "/etc/my nginx.conf", "-g", "daemon off; pid /tmp/p;"
    ]  # fmt: skip
    assert argv_from_title("nginx -qc /etc/x.conf -c/etc/y.conf -t", []) == [
        "nginx", "-qc", "/etc/x.conf", "-c/etc/y.conf", "-t"
    ]  # fmt: skip


def test_the_running_command_comes_from_docker_top_and_inspect() -> None:
    rows = [
        ["root", "10", "1", "0", "10:00", "?", "00:00:00", "/sbin/tini -- nginx -c /etc/o.conf"],
        ["root", "11", "10", "0", "", "?", "0", "nginx: master process nginx -c /etc/o.conf -g daemon off;"],
        ["101", "12", "11", "0", "10:00", "?", "00:00:00", "nginx: worker process"],
    ]  # fmt: skip
    attrs = {"Path": "/sbin/tini", "Args": ["--", "nginx", "-c", "/etc/o.conf", "-g", "daemon off;"]}
    assert running_command(rows, attrs) == NginxCommand(
        "nginx", config="/etc/o.conf", directives="daemon off;"
    )
    assert running_command(rows[2:], attrs) is None
