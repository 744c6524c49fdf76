"""The user's own nginx (`proxy-container`): which config `nginx -t` tests, how apps behind one
nginx take turns, and what an interrupted upload leaves in the user's nginx folder (issue 17,
findings 7 and 9)."""

from __future__ import annotations

import io
import shlex

import pytest

from bluegreen import commands
from bluegreen.errors import BluegreenError
from bluegreen.host import CommandResult
from bluegreen.progress import StderrReporter
from bluegreen.proxy import Candidate
from bluegreen.user_proxy import UserProxy
from tests.unit.fake_user_nginx import UserNginxHost, glob_matches

EDGE = "/srv/edge"
LIVE = f"{EDGE}/sites/shop.conf"
OLD = b"# bluegreen-active-color: blue\nserver { listen 80; location / { proxy_pass http://b:8081; } }\n"
NEW = b"# bluegreen-active-color: green\nserver { listen 80; location / { proxy_pass http://g:8082; } }\n"
BAD = b"# bluegreen-active-color: green\nserver { unknown_directive on; }\n"
OTHER_CONF = b"events {}\nhttp { include /etc/nginx/edge/sites/*; }\n"
LOCK = "/tmp/.bluegreen-switch.lock"
BLOG_HOLDER = "app blog (remote-dir /srv/deploy on bob@server) since 2026-12-06T10:00:00Z"
IMAGE = {"/etc/nginx/nginx.conf": b"events {}\nhttp { include /etc/nginx/conf.d/*.conf; }\n"}


def edge_host(
    argv: tuple[str, ...] = ("nginx", "-c", "/etc/nginx/edge/other.conf", "-g", "daemon off;"),
    single_file: bool = False,
    remote_dir: str = "/home/deploy/bluegreen",
) -> UserNginxHost:
    """A server whose nginx container `edge` runs `argv`; the app's file is LIVE, holding OLD."""
    host = UserNginxHost(remote_dir=remote_dir)
    mounts = {EDGE: "/etc/nginx/edge"}
    if single_file:
        mounts = {f"{EDGE}/other.conf": "/etc/nginx/edge/other.conf", LIVE: "/etc/nginx/edge/sites/shop.conf"}
    host.run_user_nginx("edge", argv, mounts, IMAGE)
    host.files[f"{EDGE}/other.conf"] = OTHER_CONF
    host.files[LIVE] = OLD
    return host


def proxy_for(
    host: UserNginxHost, remote_dir: str = "/home/deploy/bluegreen", app: str = "shop"
) -> UserProxy:
    proxy = UserProxy(host, app, "edge", LIVE, remote_dir, StderrReporter(io.StringIO()))
    proxy.check()
    return proxy


def hups(host: UserNginxHost) -> int:
    return len([call for call in host.engine.ops("kill") if call[1] == "edge"])


# ---- 17.7: nginx -t tests the config the master runs ------------------------------------------


def test_a_bad_template_is_refused_by_nginx_t_of_the_file_nginx_runs_with_c() -> None:
    host = edge_host()
    proxy = proxy_for(host)

    with pytest.raises(BluegreenError, match="nginx rejected the rendered config"):
        proxy.switch(Candidate(BAD))

    assert host.tested == ["/etc/nginx/edge/other.conf"]
    assert host.files[LIVE] == OLD
    assert hups(host) == 0
    assert ("docker", "exec", "edge", "nginx", "-t", "-q", "-c", "/etc/nginx/edge/other.conf",
            "-g", "daemon off;") in host.argvs  # fmt: skip

    proxy.switch(Candidate(NEW))
    assert host.files[LIVE] == NEW
    assert hups(host) == 1


def test_the_njs_check_reads_the_config_nginx_runs() -> None:
    host = edge_host()
    host.files[f"{EDGE}/other.conf"] = b"load_module modules/ngx_http_js_module.so;\n" + OTHER_CONF
    files = proxy_for(host).seamless_files()
    assert files is not None
    assert files.active_path == "/etc/nginx/edge/sites/.bluegreen-shop.active"


def test_an_entrypoint_script_and_relative_paths_are_passed_on_as_nginx_got_them() -> None:
    host = edge_host(("/usr/sbin/nginx", "-p", "/etc/nginx/edge/", "-qc", "other.conf", "-g", "daemon off;"),
                     )  # fmt: skip
    host.nginx.started = ["/docker-entrypoint.sh", *host.nginx.started]  # type: ignore[union-attr]
    proxy_for(host).switch(Candidate(NEW))
    assert ("docker", "exec", "edge", "/usr/sbin/nginx", "-t", "-q", "-p", "/etc/nginx/edge/", "-c",
            "other.conf", "-g", "daemon off;") in host.argvs  # fmt: skip


# ---- 17.7: one lock per nginx container ---------------------------------------------------------


def test_apps_with_other_remote_dirs_and_ssh_users_take_turns_on_one_nginx() -> None:
    alice = edge_host(remote_dir="/home/alice/apps")
    alice.name = "alice@server"
    bob = alice.twin(remote_dir="/srv/deploy", name="bob@server")
    shop, blog = proxy_for(alice, "/home/alice/apps"), proxy_for(bob, "/srv/deploy", app="blog")
    bob.files[f"{EDGE}/sites/blog.conf"] = b"server { listen 81; }\n"
    blog.live_config = f"{EDGE}/sites/blog.conf"
    refused: list[str] = []

    def blog_switches_meanwhile() -> None:
        alice.on_test = None
        try:
            blog.switch(Candidate(b"server { listen 82; }\n"))
        except BluegreenError as exc:
            refused.append(str(exc))

    alice.on_test = blog_switches_meanwhile  # while shop's switch holds its turn
    shop.switch(Candidate(NEW))

    assert len(refused) == 1, "blog switched while shop held its turn on the same nginx"
    assert "another app's switch held the switch lock /tmp/.bluegreen-switch.lock inside edge" in refused[0]
    assert "app shop (remote-dir /home/alice/apps on alice@server) since 20" in refused[0]
    assert bob.files[f"{EDGE}/sites/blog.conf"] == b"server { listen 81; }\n"
    blog.switch(Candidate(b"server { listen 82; }\n"))  # shop's turn is over
    assert bob.files[f"{EDGE}/sites/blog.conf"] == b"server { listen 82; }\n"


def test_the_switch_lock_command_names_the_container_not_the_remote_dir() -> None:
    argv = commands.in_container(
        "edge", commands.switch_lock(commands.SWITCH_LOCK_FILE, "app shop", 120), stdin=True
    )
    assert shlex.join(argv[:5]) == "docker exec -i edge sh"
    assert argv[7:] == ["sh", "/tmp/.bluegreen-switch.lock", "app shop", "120"]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (CommandResult((), 75, "", f"{BLOG_HOLDER}\n"),
         "another app's switch held the switch lock /tmp/.bluegreen-switch.lock inside edge for 120 s "
         f"({BLOG_HOLDER})"),
        (CommandResult((), 73, "", f"sh: 3: cannot create {LOCK}: Read-only file system\n"),
         f"cannot create or open the switch lock {LOCK} inside edge: sh: 3: cannot create {LOCK}: "
         "Read-only file system"),
        (CommandResult((), 69, "", "no flock command\n"), "edge has no `flock` command"),
        (CommandResult((), 126, "", 'OCI runtime exec failed: exec: "sh": executable file not found'),
         'failed (exit 126): OCI runtime exec failed: exec: "sh": executable file not found'),
    ],
)  # fmt: skip
def test_each_switch_lock_failure_is_reported_as_what_it_is(answer: CommandResult, words: str) -> None:
    host = edge_host()
    host.hold_answers.append(answer)
    with pytest.raises(BluegreenError) as raised:
        proxy_for(host).switch(Candidate(NEW))
    assert words in str(raised.value)
    assert "nothing was switched" in str(raised.value)
    assert host.files[LIVE] == OLD


# ---- 17.9: an interrupted upload ------------------------------------------------------------------


def files_nginx_includes(host: UserNginxHost, directory: str, pattern: str) -> dict[str, bytes]:
    prefix = directory + "/"
    return {
        path: content
        for path, content in host.files.items()
        if path.startswith(prefix) and "/" not in path[len(prefix) :]
        and glob_matches(pattern, path[len(prefix) :])
    }  # fmt: skip


def test_a_dropped_upload_leaves_no_partial_file_an_include_matches() -> None:
    host = edge_host()
    proxy = proxy_for(host)
    host.drop_upload_of = b"listen 80; location / { proxy_pass http://g:8082"

    with pytest.raises((EOFError, BluegreenError)):
        proxy.switch(Candidate(NEW))

    assert files_nginx_includes(host, f"{EDGE}/sites", "*") == {LIVE: OLD}
    assert [path for path in host.files if path.startswith(f"{EDGE}/sites/.")]  # the partial: hidden
    host.drop_upload_of = None
    assert host.run(commands.nginx_test_in("edge", proxy.nginx)).ok
    proxy.switch(Candidate(NEW))
    assert files_nginx_includes(host, f"{EDGE}/sites", "*") == {LIVE: NEW}


def test_a_dropped_upload_leaves_a_single_file_mount_whole() -> None:
    host = edge_host(single_file=True)
    proxy = proxy_for(host)
    assert proxy.mount.single_file
    host.drop_upload_of = b"listen 80; location / { proxy_pass http://g:8082"

    with pytest.raises((EOFError, BluegreenError)):
        proxy.switch(Candidate(NEW))

    assert host.files[LIVE] == OLD
    host.drop_upload_of = None
    proxy.switch(Candidate(NEW))
    assert host.files[LIVE] == NEW
    assert not [path for path in host.files if path.startswith(f"{EDGE}/sites/") and path != LIVE]
