"""bluegreen's own proxy in the states a server can be in (issue 17, findings 3, 4 and 8), driven
through the real routine against the fake host: a replacement without a moment where no proxy
accepts connections, mounts compared as Docker stores them, a port someone else holds, a proxy that
restarts forever or sees a folder that was made again."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.config import parse_inputs
from bluegreen.deploy import Result, run_command
from bluegreen.errors import BluegreenError, InputError
from bluegreen.render import PROXY_CONFIG_DIR
from bluegreen.reuseport import lacks_reuseport, with_reuseport
from tests.unit.fake_host import ComposeCall, FakeContainer, FakeHost, _mount
from tests.unit.test_config import good
from tests.unit.test_routine_failures import IMAGE, LIVE_CONFIG, Recorder, fake, workspace

__all__ = ["fake", "workspace"]  # fixtures

CERTS = "/srv/certs:/etc/certs:ro"


def deploy(fake: FakeHost, workspace: Path, version: str, volumes: str = "") -> tuple[Result, Recorder]:
    timing = {"health-timeout": "1", "drain-timeout": "5", "lock-timeout": "1"}
    inputs = good(image=f"{IMAGE}:{version}", **{"nginx-template": "", "proxy-volumes": volumes}, **timing)
    recorder = Recorder()
    return run_command(parse_inputs(inputs, workspace), fake, recorder), recorder


def refused_moments(fake: FakeHost) -> list[int]:
    """Indexes of the proxy changes after which no proxy accepted connections, once one had."""
    counts = fake.engine.proxy_counts
    first = next((i for i, count in enumerate(counts) if count), len(counts))
    return [i for i, count in enumerate(counts[first:], start=first) if count == 0]


def proxies(fake: FakeHost) -> list[FakeContainer]:
    return fake.proxy_containers()


# ---- reuseport: what the renderer gives the proxy -------------------------------------------------


def test_every_listening_socket_gets_reuseport_once() -> None:
    config = (
        "# listen 1;\n"
        "http {\n"
        "  server { listen 80; listen [::]:80; server_name a; }\n"
        "  server { listen 0.0.0.0:80 default_server; server_name b; }  # listen 9;\n"
        "  server { listen 127.0.0.1:8443 ssl; listen 127.0.0.1:8443 ssl backlog=511; }\n"
        "  server { listen unix:/run/x.sock; listen 81 reuseport; }\n"
        "}\n"
    )
    assert with_reuseport(config) == (
        "# listen 1;\n"
        "http {\n"
        "  server { listen 80 reuseport; listen [::]:80 reuseport; server_name a; }\n"
        "  server { listen 0.0.0.0:80 default_server; server_name b; }  # listen 9;\n"
        "  server { listen 127.0.0.1:8443 ssl; listen 127.0.0.1:8443 ssl backlog=511 reuseport; }\n"
        "  server { listen unix:/run/x.sock; listen 81 reuseport; }\n"
        "}\n"
    )
    assert lacks_reuseport(config) == ["*:80", "127.0.0.1:8443", "[::]:80"]
    assert lacks_reuseport(with_reuseport(config)) == []


# ---- 17.3: changing the proxy refuses no connection ----------------------------------------------


def test_changing_proxy_volumes_starts_the_new_proxy_beside_the_old_one(
    fake: FakeHost, workspace: Path
) -> None:
    deploy(fake, workspace, "v1")
    deploy(fake, workspace, "v2")
    [old] = proxies(fake)
    assert b"listen 80 reuseport;" in fake.files[LIVE_CONFIG]
    fake.engine.calls.clear()

    result, recorder = deploy(fake, workspace, "v3", CERTS)

    assert result.status == "deployed"
    assert refused_moments(fake) == [], fake.engine.proxy_counts
    [new] = proxies(fake)
    assert (new.project, new.status) == ("shop-proxy-alt", "running")
    assert [m["Source"] for m in new.bind_mounts] == [f"{fake.app_dir}/nginx", "/srv/certs"]
    # the old one quit gracefully (never restarted by Docker: its policy off first), after the new ran
    calls = fake.engine.calls
    assert (
        calls.index(("start", new.name)) < calls.index(("update", old.name)) < calls.index(("kill", old.name))
    )
    assert ("stop", old.name) not in calls and ("remove", old.name) in calls
    assert fake.proxy_route() == "blue"
    assert any("replacing the proxy (proxy-volumes asks for" in info for info in recorder.infos)
    assert any("net.ipv4.tcp_migrate_req is not available" in w for w in recorder.warnings)


def test_the_kernel_handing_queued_connections_over_is_checked(fake: FakeHost, workspace: Path) -> None:
    deploy(fake, workspace, "v1")
    fake.files["/proc/sys/net/ipv4/tcp_migrate_req"] = b"0\n"
    warned = deploy(fake, workspace, "v2", CERTS)[1].warnings
    assert any("net.ipv4.tcp_migrate_req is 0 on fake-host" in w for w in warned)
    fake.files["/proc/sys/net/ipv4/tcp_migrate_req"] = b"1\n"
    assert not any("tcp_migrate_req" in w for w in deploy(fake, workspace, "v3")[1].warnings)


def test_a_proxy_started_without_reuseport_is_reloaded_with_it_before_the_new_one_starts(
    fake: FakeHost, workspace: Path
) -> None:
    """A proxy an older bluegreen started listens without reuseport: its own config plus reuseport
    is loaded first (a HUP), and the new proxy then starts beside it."""
    deploy(fake, workspace, "v1")
    before = fake.files[LIVE_CONFIG].replace(b" reuseport", b"")
    fake.files[LIVE_CONFIG] = before
    [old] = proxies(fake)
    old.loaded = before
    fake.engine.calls.clear()

    deploy(fake, workspace, "v2", CERTS)

    assert refused_moments(fake) == [], fake.engine.proxy_counts
    assert fake.engine.calls.index(("kill", old.name)) < fake.engine.calls.index(("update", old.name))
    assert [c.project for c in proxies(fake)] == ["shop-proxy-alt"]


def test_a_proxy_that_cannot_share_its_port_is_stopped_first_and_said(
    fake: FakeHost, workspace: Path
) -> None:
    deploy(fake, workspace, "v1")
    [old] = proxies(fake)
    old.loaded = b"listen 80;"  # what it runs, whatever its file says (a config from an include)

    _, recorder = deploy(fake, workspace, "v2", CERTS)

    assert any("cannot listen beside the old one" in warning for warning in recorder.warnings)
    assert [(c.project, c.status) for c in proxies(fake)] == [("shop-proxy-alt", "running")]
    assert fake.proxy_route() == "green"


# ---- 17.4: a trailing slash ------------------------------------------------------------------------


def test_proxy_volumes_are_kept_as_docker_stores_them(workspace: Path) -> None:
    volumes = "/srv/certs/:/etc/certs/:ro\n/srv/./static:/static:rw"
    inputs = good(**{"proxy-volumes": volumes, "nginx-template": ""})
    assert parse_inputs(inputs, workspace).proxy_volumes == (
        "/srv/certs:/etc/certs:ro",
        "/srv/static:/static",
    )


def test_a_trailing_slash_in_proxy_volumes_deploys_and_changes_nothing_the_next_time(
    fake: FakeHost, workspace: Path
) -> None:
    deploy(fake, workspace, "v1", "/srv/certs/:/etc/certs/:ro")
    [proxy] = proxies(fake)
    _, recorder = deploy(fake, workspace, "v2", "/srv/certs/:/etc/certs/:ro")
    assert proxies(fake) == [proxy] and proxy.status == "running"
    assert not any("replacing the proxy" in info for info in recorder.infos)


def test_a_running_proxy_is_never_reported_as_not_started(fake: FakeHost, workspace: Path) -> None:
    """Docker may report a mount otherwise than asked (a path it resolved): the proxy runs, so the
    deploy goes on and says what Docker reports."""
    deploy(fake, workspace, "v1")
    original = fake._compose_up_proxy

    def resolving(call: ComposeCall, containers: list[FakeContainer]) -> None:
        original(call, containers)
        for container in proxies(fake):
            for mount in container.bind_mounts:
                mount["Source"] = mount["Source"].replace("/srv/certs", "/mnt/disk1/certs")

    fake._compose_up_proxy = resolving  # type: ignore[method-assign]
    result, recorder = deploy(fake, workspace, "v2", CERTS)
    assert result.status == "deployed"
    assert any("the nginx proxy runs, but Docker reports" in warning for warning in recorder.warnings)


# ---- 17.8: a port in use, a stale proxy ------------------------------------------------------------


def test_a_port_another_program_holds_is_refused_before_anything_changes(
    fake: FakeHost, workspace: Path
) -> None:
    fake.foreign(80)
    with pytest.raises(InputError) as caught:
        deploy(fake, workspace, "v1")
    assert "port 80 is already in use on fake-host" in str(caught.value)
    assert fake.engine.all == [] and fake.writes == []


def test_a_port_taken_where_the_probe_cannot_see_it_is_named_from_nginx_and_the_proxy_goes(
    fake: FakeHost, workspace: Path
) -> None:
    fake.engine.busy_ports.add(80)  # held on another address: 127.0.0.1:80 refuses
    with pytest.raises(BluegreenError) as caught:
        deploy(fake, workspace, "v1")
    assert str(caught.value).startswith(
        "port 80 is already in use on fake-host: nginx could not listen on 0.0.0.0:80"
    )
    assert proxies(fake) == []  # not left restarting forever
    assert fake.engine.statuses("shop-blue") == []


def test_a_proxy_left_restarting_is_replaced_by_a_fresh_one(fake: FakeHost, workspace: Path) -> None:
    fake.engine.busy_ports.add(80)
    with pytest.raises(BluegreenError):
        deploy(fake, workspace, "v1")
    image = parse_inputs(good(**{"nginx-template": ""}), workspace).proxy_image
    stale = fake.engine.create("shop-proxy", "nginx", image)  # as an older run left it: same file
    stale.bind_mounts = [_mount(f"{fake.app_dir}/nginx:{PROXY_CONFIG_DIR}:ro")]
    stale.status, stale.restarts = "restarting", 40  # Docker's next try is minutes away
    fake.engine.busy_ports.clear()

    result, _ = deploy(fake, workspace, "v1")

    assert result.status == "deployed"
    assert stale not in fake.engine.all
    assert [c.status for c in proxies(fake)] == ["running"] and fake.proxy_route() == "blue"


def test_a_proxy_that_sees_a_folder_made_again_is_replaced_not_blamed_on_the_template(
    fake: FakeHost, workspace: Path
) -> None:
    deploy(fake, workspace, "v1")
    [old] = proxies(fake)
    old.sees_folder = False  # the app's nginx directory was removed and made again on the server
    fake.engine.calls.clear()

    result, recorder = deploy(fake, workspace, "v2")

    assert result.status == "deployed"
    assert any("the proxy does not see" in info for info in recorder.infos)
    assert refused_moments(fake) == [], fake.engine.proxy_counts
    assert [c.sees_folder for c in proxies(fake)] == [True] and fake.proxy_route() == "green"
