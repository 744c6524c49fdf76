"""The lab's fleet: BLUEGREEN_LAB_FLEET hosts behind a load balancer, all on this machine.

Each host is a network namespace (lab/netns.py) with its own Docker engine (lab/engines.py) and its
own sshd: the lab's compose v2 server image, run on that engine with the namespace's network, the
fleet's remote dir mounted at the same absolute path, the lab's user, client key and known_hosts
file. The hosts pull from the lab registry by its usual name, 127.0.0.1:PORT/..., through a relay
(lab/registry_relay.py). In front, nginx on 127.0.0.1 balances over the hosts (lab/fleet_lb.py).

`up` reuses whatever already runs and repairs the rest (a host whose namespace is broken is remade,
an engine that stopped is started again with its data); `down` removes everything, data included.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import docker
import docker.errors

from lab import daemons, engines, fleet_lb, keys, netns, recipes
from lab.engines import Engine
from lab.progress import say
from lab.readiness import sshd_answers, wait_until
from lab.settings import (
    DEPLOY_UID,
    HOST,
    LAB_LABEL,
    PACKAGE_DIR,
    FleetSettings,
    LabPaths,
    fleet_names,
    fleet_settings,
    lab_name,
    ports,
)

SERVER_IMAGE = recipes.SERVER_V2
SPEC_LABEL = "bluegreen.lab.spec"
RELAY_MODULE = "lab.registry_relay"


@dataclass(frozen=True)
class Host:
    index: int
    address: str
    ssh_port: int
    engine: Engine

    @property
    def key_flavour(self) -> str:
        """Name of its host key file (paths.host_key)."""
        return f"fleet-h{self.index}"

    @property
    def target(self) -> str:
        return f"{self.address}:{self.ssh_port}"


@dataclass(frozen=True)
class Fleet:
    settings: FleetSettings
    paths: LabPaths
    bridge_ns: str
    root_end: str
    hosts: tuple[Host, ...]

    @property
    def directory(self) -> Path:
        return self.paths.fleet_dir

    @property
    def remote_dir(self) -> Path:
        """Every host's deploy dir is at this path (in the host's own mount namespace)."""
        return self.directory / "deploy"

    def image_cache(self, storage_driver: str) -> Path:
        """A copy of an engine's image store holding the server image (kept by `down`)."""
        return self.paths.root / "fleet-cache" / f"{storage_driver}-{SERVER_IMAGE.tag.rsplit(':', 1)[1]}"

    @property
    def relay_pid_file(self) -> Path:
        return self.directory / "registry-relay.pid"

    @property
    def root_cidr(self) -> str:
        return f"{self.settings.root_address}/{self.settings.subnet.prefixlen}"

    def host_cidr(self, host: Host) -> str:
        return f"{host.address}/{self.settings.subnet.prefixlen}"


def host_of(paths: LabPaths, settings: FleetSettings, index: int) -> Host:
    namespaces = fleet_names(lab_name(), index)[2]
    engine = Engine(
        namespace=namespaces[-1],
        hostname=f"{lab_name()}-h{index}",
        directory=paths.fleet_dir / f"h{index}",
        deploy_dir=paths.fleet_dir / f"h{index}" / "deploy",
    )
    return Host(index, settings.address(index), settings.ssh_port, engine)


def plan(paths: LabPaths, settings: FleetSettings | None = None) -> Fleet:
    chosen = settings or fleet_settings()
    bridge_ns, root_end, _ = fleet_names(lab_name(), chosen.size)
    hosts = tuple(host_of(paths, chosen, i) for i in range(1, chosen.size + 1))
    return Fleet(chosen, paths, bridge_ns, root_end, hosts)


# --- keys ------------------------------------------------------------------------------------


def key_flavours(paths: LabPaths) -> list[str]:
    return [host.key_flavour for host in plan(paths).hosts]


def known_hosts_entries(paths: LabPaths) -> list[tuple[str, int, str]]:
    """known_hosts entries of the fleet's hosts whose host key exists."""
    return [
        (host.address, host.ssh_port, keys.public_key_line(paths.host_key(host.key_flavour)))
        for host in plan(paths).hosts
        if keys.key_pair_exists(paths.host_key(host.key_flavour))
    ]


def _ensure_keys(fleet: Fleet) -> None:
    for host in fleet.hosts:
        private = fleet.paths.host_key(host.key_flavour)
        if not keys.key_pair_exists(private):
            say(f"generating the host key of fleet host {host.index}")
            keys.write_key_pair(private, f"{lab_name()}-fleet-h{host.index}")
    keys.replace_known_hosts(fleet.paths.known_hosts, known_hosts_entries(fleet.paths))


# --- network ---------------------------------------------------------------------------------


def _bridge_ok(fleet: Fleet) -> bool:
    return netns.exists(fleet.bridge_ns) and netns.has_address(None, fleet.root_end, fleet.root_cidr)


def _host_network_ok(fleet: Fleet, host: Host) -> bool:
    return netns.exists(host.engine.namespace) and netns.has_address(
        host.engine.namespace, netns.HOST_INTERFACE, fleet.host_cidr(host)
    )


def _existing_host_indexes() -> list[int]:
    pattern = re.compile(re.escape(f"{lab_name()}-fleet-h") + r"(\d+)")
    if not netns.NETNS_DIR.is_dir():
        return []
    found = (pattern.fullmatch(entry.name) for entry in netns.NETNS_DIR.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def _remove_host(host: Host) -> None:
    engines.stop(host.engine)
    netns.delete(host.engine.namespace)
    engines.remove_files(host.engine)


def _ensure_network(fleet: Fleet) -> set[int]:
    """Makes the bridge and every host's namespace that is missing or broken (a broken host is
    removed first, its engine and data with it). Returns the indexes of the hosts made anew."""
    wanted = {host.index for host in fleet.hosts}
    extra = [host_of(fleet.paths, fleet.settings, i) for i in _existing_host_indexes() if i not in wanted]
    bridge_ok = _bridge_ok(fleet)
    broken = [host for host in fleet.hosts if not (bridge_ok and _host_network_ok(fleet, host))]
    for host in extra + broken:
        if netns.exists(host.engine.namespace) or host.engine.directory.exists():
            say(f"removing fleet host {host.index} (namespace broken, half made or not wanted)")
        _remove_host(host)
    if not bridge_ok:
        netns.delete(fleet.bridge_ns)
        netns.delete_link(fleet.root_end)
        netns.run_all(netns.bridge_commands(fleet.bridge_ns, fleet.root_end, fleet.root_cidr))
    for host in broken:
        netns.run_all(
            netns.host_commands(fleet.bridge_ns, host.engine.namespace, host.index, fleet.host_cidr(host))
        )
    return {host.index for host in broken}


# --- engines, images, relay, sshd --------------------------------------------------------------


def _ensure_engines(fleet: Fleet, storage_driver: str) -> None:
    stopped = [host for host in fleet.hosts if not engines.running(host.engine)]
    for host in stopped:
        engines.stop(host.engine)  # whatever is left of an engine that died
    with ThreadPoolExecutor(max_workers=max(len(stopped), 1)) as pool:
        cache = fleet.image_cache(storage_driver)
        list(pool.map(lambda host: engines.seed_data_root(host.engine, cache, storage_driver), stopped))
    for host in stopped:
        say(f"starting the Docker engine of fleet host {host.index}")
        engines.start(host.engine, fleet.remote_dir, storage_driver)
    for host in stopped:
        engines.wait_ready(host.engine)


def _relay_argv(fleet: Fleet) -> list[str]:
    return [
        sys.executable,
        "-m",
        RELAY_MODULE,
        str(ports().registry),
        str(fleet.relay_pid_file),
        *(host.engine.namespace for host in fleet.hosts),
    ]


def _ensure_relay(fleet: Fleet, hosts_made: set[int]) -> None:
    argv = _relay_argv(fleet)
    pid = daemons.pid_of(fleet.relay_pid_file)
    if pid is not None and daemons.cmdline(pid) == argv and not hosts_made:
        return
    if pid is not None and daemons.cmdline(pid):
        daemons.stop(pid, 5)
    fleet.relay_pid_file.unlink(missing_ok=True)
    say("starting the registry relay into the fleet's hosts")
    daemons.start_detached(argv, fleet.directory / "registry-relay.log", cwd=PACKAGE_DIR.parent)
    wait_until(lambda: daemons.pid_of(fleet.relay_pid_file) is not None, "the fleet's registry relay", 30)


def _server_spec(fleet: Fleet, host: Host) -> dict[str, Any]:
    paths = fleet.paths
    host_key = paths.host_key(host.key_flavour)
    return {
        "image": SERVER_IMAGE.tag,
        "command": ["-o", f"ListenAddress={host.address}"],
        "environment": {"SSHD_PORT": str(host.ssh_port), "DEPLOY_HOME": str(fleet.remote_dir)},
        "volumes": {
            str(host.engine.socket): {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(fleet.remote_dir): {"bind": str(fleet.remote_dir), "mode": "rw"},
            str(paths.authorized_keys): {"bind": "/etc/lab/authorized_keys", "mode": "ro"},
            str(host_key): {"bind": "/etc/lab/ssh_host_ed25519_key", "mode": "ro"},
        },
        # Keys are files mounted one by one: a key written anew (a new inode) needs a new container.
        "keys": [paths.authorized_keys.read_text(), keys.public_key_line(host_key)],
    }


def server_name() -> str:
    return f"{lab_name()}-server"


def _ensure_server(fleet: Fleet, host: Host, source: docker.DockerClient, storage_driver: str) -> None:
    if engines.ensure_image(host.engine, source, SERVER_IMAGE.tag):
        engines.save_image_cache(host.engine, fleet.image_cache(storage_driver), storage_driver)
    spec = _server_spec(fleet, host)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    client = host.engine.client()
    try:
        try:
            current = client.containers.get(server_name())
            if current.labels.get(SPEC_LABEL) == digest and current.status == "running":
                return
            current.remove(force=True)
        except docker.errors.NotFound:
            pass
        host.engine.deploy_dir.mkdir(parents=True, exist_ok=True)
        os.chown(host.engine.deploy_dir, DEPLOY_UID, DEPLOY_UID)
        say(f"starting sshd of fleet host {host.index} on {host.target}")
        client.containers.run(
            spec["image"],
            spec["command"],
            name=server_name(),
            detach=True,
            network_mode="host",
            restart_policy={"Name": "always"},
            environment=spec["environment"],
            volumes=spec["volumes"],
            labels={LAB_LABEL: lab_name(), SPEC_LABEL: digest},
        )
    finally:
        client.close()


# --- up, down, describe ----------------------------------------------------------------------


def describe(fleet: Fleet) -> dict[str, Any]:
    p = ports()
    return {
        "hosts": [host.target for host in fleet.hosts],
        "lb_url": f"http://{HOST}:{fleet.settings.lb_port}",
        "remote_dir": str(fleet.remote_dir),
        "http_port": p.http,
        "blue_port": p.blue,
        "green_port": p.green,
        "engines": [
            {
                "host": host.target,
                "docker_host": host.engine.url,
                "pid_file": str(host.engine.pid_file),
                "namespace": host.engine.namespace,
                "deploy_dir": str(host.engine.deploy_dir),
            }
            for host in fleet.hosts
        ],
    }


def up(paths: LabPaths) -> dict[str, Any] | None:
    """Starts what is missing of the fleet (nothing when it all runs) and returns its info; None
    when BLUEGREEN_LAB_FLEET is 0 (a running fleet is then left alone). The lab's images and client
    key must exist (lifecycle.prepare)."""
    fleet = plan(paths)
    if not fleet.hosts:
        return None
    source = docker.from_env()
    timer = _PhaseTimer()
    _ensure_keys(fleet)
    hosts_made = _ensure_network(fleet)
    timer.done("network")
    storage_driver = str(source.info()["Driver"])  # what works for the machine's engine
    _ensure_engines(fleet, storage_driver)
    _ensure_relay(fleet, hosts_made)
    timer.done("engines")
    with ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool:
        jobs = [pool.submit(_ensure_server, fleet, host, source, storage_driver) for host in fleet.hosts]
        for job in jobs:
            job.result()
    for host in fleet.hosts:
        wait_until(partial(sshd_answers, host.ssh_port, host.address), f"sshd of fleet host {host.target}")
    timer.done("server image and sshd")
    backends = [f"{host.address}:{ports().http}" for host in fleet.hosts]
    config = fleet_lb.render(backends, f"{HOST}:{fleet.settings.lb_port}")
    fleet_lb.ensure(source, recipes.NGINX.tag, fleet.directory / "lb", config)
    timer.done("load balancer")
    say(f"fleet of {len(fleet.hosts)} hosts up: {timer}")
    return describe(fleet)


class _PhaseTimer:
    def __init__(self) -> None:
        self.last = time.monotonic()
        self.phases: list[str] = []

    def done(self, phase: str) -> None:
        now = time.monotonic()
        self.phases.append(f"{phase} {now - self.last:.1f} s")
        self.last = now

    def __str__(self) -> str:
        return ", ".join(self.phases)


def down(paths: LabPaths) -> None:
    """Removes the load balancer, the relay, every host (engine stopped by its pid file, namespace,
    data, deploy dir) and the bridge: also those of a bigger or half-made fleet."""
    fleet = plan(paths)
    fleet_lb.remove(docker.from_env())
    pid = daemons.pid_of(fleet.relay_pid_file)
    if pid is not None and RELAY_MODULE in daemons.cmdline(pid):
        daemons.stop(pid, 5)
    indexes = sorted({host.index for host in fleet.hosts} | set(_existing_host_indexes()))
    hosts = [host_of(paths, fleet.settings, i) for i in indexes]
    if hosts:
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            list(pool.map(_remove_host, hosts))
    netns.delete(fleet.bridge_ns)
    netns.delete_link(fleet.root_end)
    shutil.rmtree(fleet.directory, ignore_errors=True)
