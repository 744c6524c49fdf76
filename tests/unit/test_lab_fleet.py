"""The lab fleet's pure parts: the commands that make its network, its engines' configuration and
start command, the load balancer's nginx.conf, its settings and known_hosts lines. The running fleet
is tested for real in tests/lab/test_fleet.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import engines, fleet_lb, netns
from lab.engines import Engine
from lab.keys import replace_known_hosts, write_key_pair
from lab.settings import fleet_names, fleet_settings


def test_the_bridge_lives_in_its_own_namespace_and_the_root_gets_one_veth_end() -> None:
    assert netns.bridge_commands("lab-fleet-br", "bgf1234", "10.9.0.1/24") == [
        ["ip", "netns", "add", "lab-fleet-br"],
        ["ip", "-n", "lab-fleet-br", "link", "set", "lo", "up"],
        ["ip", "-n", "lab-fleet-br", "link", "add", "br0", "type", "bridge"],
        ["ip", "-n", "lab-fleet-br", "link", "set", "br0", "up"],
        ["ip", "link", "add", "bgf1234", "type", "veth", "peer", "name", "root", "netns", "lab-fleet-br"],
        ["ip", "-n", "lab-fleet-br", "link", "set", "root", "master", "br0", "up"],
        ["ip", "addr", "add", "10.9.0.1/24", "dev", "bgf1234"],
        ["ip", "link", "set", "bgf1234", "up"],
    ]


PEER = ["peer", "name", "eth0", "netns", "lab-fleet-h2"]


def test_a_host_gets_eth0_on_the_bridge_and_no_route_out() -> None:
    commands = netns.host_commands("lab-fleet-br", "lab-fleet-h2", 2, "10.9.0.12/24")
    assert commands == [
        ["ip", "netns", "add", "lab-fleet-h2"],
        ["ip", "-n", "lab-fleet-h2", "link", "set", "lo", "up"],
        ["ip", "-n", "lab-fleet-br", "link", "add", "h2", "type", "veth", *PEER],
        ["ip", "-n", "lab-fleet-br", "link", "set", "h2", "master", "br0", "up"],
        ["ip", "-n", "lab-fleet-h2", "addr", "add", "10.9.0.12/24", "dev", "eth0"],
        ["ip", "-n", "lab-fleet-h2", "link", "set", "eth0", "up"],
    ]
    assert not any("route" in argv for argv in commands)
    assert not any("iptables" in " ".join(argv) for argv in commands)


def _engine(tmp_path: Path) -> Engine:
    return Engine("lab-fleet-h1", "lab-h1", tmp_path / "h1", tmp_path / "h1" / "deploy")


def test_each_engine_has_its_own_files_key_and_cgroup(tmp_path: Path) -> None:
    config = engines.daemon_config(_engine(tmp_path), "fuse-overlayfs", dockerd_major=20)
    h1 = tmp_path / "h1"
    assert config == {
        "storage-driver": "fuse-overlayfs",
        "data-root": f"{h1}/data",
        "exec-root": f"{h1}/exec",
        "pidfile": f"{h1}/docker.pid",
        "hosts": [f"unix://{h1}/docker.sock"],
        "cgroup-parent": "/lab-fleet-h1",
        "deprecated-key-path": f"{h1}/key.json",
        "labels": ["bluegreen.lab.fleet-host=lab-h1"],
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "3"},
    }
    newer = engines.daemon_config(_engine(tmp_path), "overlayfs", dockerd_major=25)
    assert "deprecated-key-path" not in newer  # its ID lives in its data root: no key file option


def test_an_engine_enters_the_network_namespace_only_then_binds_its_deploy_dir(tmp_path: Path) -> None:
    argv = engines.start_argv(_engine(tmp_path), Path("/srv/fleet/deploy"))
    assert argv[:2] == ["nsenter", "--net=/var/run/netns/lab-fleet-h1"]  # not `ip netns exec`
    assert argv[2:8] == ["unshare", "--mount", "--uts", "--propagation", "private", "--"]
    assert argv[8:11] == [
        "sh",
        "-c",
        'mount --bind "$1" "$2" && hostname "$3" && '
        "{ [ ! -d /run/containerd ] || mount -t tmpfs tmpfs /run/containerd; } && "
        'shift 3 && exec "$@"',
    ]
    assert argv[11:] == [
        "sh",
        f"{tmp_path}/h1/deploy",
        "/srv/fleet/deploy",
        "lab-h1",
        "dockerd",
        "--config-file",
        f"{tmp_path}/h1/daemon.json",
    ]


def test_load_balancer_round_robins_with_passive_checks_and_one_retry_elsewhere() -> None:
    config = fleet_lb.render(["10.9.0.11:18080", "10.9.0.12:18080"], "127.0.0.1:18090")
    assert (
        "    upstream fleet {\n"
        "        server 10.9.0.11:18080 max_fails=1 fail_timeout=5s;\n"
        "        server 10.9.0.12:18080 max_fails=1 fail_timeout=5s;\n"
        "    }\n"
    ) in config
    assert "listen 127.0.0.1:18090;" in config
    for line in (
        "proxy_pass http://fleet;",
        "proxy_next_upstream error timeout;",
        "proxy_next_upstream_tries 2;",
        "add_header X-Fleet-Upstream $upstream_addr always;",
    ):
        assert f"            {line}\n" in config
    assert "least_conn" not in config and "keepalive " not in config.replace("keepalive_", "")


def test_fleet_settings_and_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUEGREEN_LAB_FLEET", "3")
    monkeypatch.setenv("BLUEGREEN_LAB_FLEET_SUBNET", "10.9.0.0/24")
    monkeypatch.setenv("BLUEGREEN_LAB_FLEET_LB_PORT", "21490")
    settings = fleet_settings()
    assert (settings.size, settings.lb_port, settings.ssh_port) == (3, 21490, 22)
    assert settings.root_address == "10.9.0.1"
    assert [settings.address(i) for i in (1, 2, 3)] == ["10.9.0.11", "10.9.0.12", "10.9.0.13"]
    bridge, root_end, hosts = fleet_names("bluegreen-lab", 2)
    assert (bridge, hosts) == ("bluegreen-lab-fleet-br", ["bluegreen-lab-fleet-h1", "bluegreen-lab-fleet-h2"])
    assert root_end.startswith("bgf") and len(root_end) <= 15
    assert fleet_names("another-lab", 2)[1] != root_end
    monkeypatch.setenv("BLUEGREEN_LAB_FLEET_SUBNET", "10.9.0.0/28")
    assert fleet_settings().address(3) == "10.9.0.13"
    monkeypatch.setenv("BLUEGREEN_LAB_FLEET", "5")  # .15 is the broadcast address
    with pytest.raises(ValueError, match=r"BLUEGREEN_LAB_FLEET=5: from 0 to 4 hosts fit in 10.9.0.0/28"):
        fleet_settings()


def test_known_hosts_lines_of_fleet_hosts_are_replaced_and_others_kept(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    old, new, server = (write_key_pair(tmp_path / name, name) for name in ("old", "new", "server"))
    replace_known_hosts(known, [("127.0.0.1", 22220, server), ("10.9.0.11", 22, old)])
    replace_known_hosts(known, [("10.9.0.11", 22, new), ("10.9.0.12", 22, new)])
    blob = {name: key.split()[1] for name, key in (("old", old), ("new", new), ("server", server))}
    assert known.read_text() == (
        f"[127.0.0.1]:22220 ssh-ed25519 {blob['server']}\n"
        f"10.9.0.11 ssh-ed25519 {blob['new']}\n"
        f"10.9.0.12 ssh-ed25519 {blob['new']}\n"
    )
