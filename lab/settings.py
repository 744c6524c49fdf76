"""Every constant of the lab in one place: ports, paths, names. The lab's name (compose project,
container names, label value), dir and ports can be overridden by environment variables
(BLUEGREEN_LAB_NAME, BLUEGREEN_LAB_DIR, BLUEGREEN_LAB_*_PORT): a second lab with its own name,
dir and ports runs beside the shared one without touching it."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
IMAGES_DIR = PACKAGE_DIR / "images"
EXAMPLE_DIR = PACKAGE_DIR / "example"
COMPOSE_FILE = PACKAGE_DIR / "compose.yml"

HOST = "127.0.0.1"
USERNAME = "deploy"
DEPLOY_UID = 2222
DEFAULT_LAB_NAME = "bluegreen-lab"
LAB_LABEL = "bluegreen.lab"
MANAGED_LABEL = "bluegreen.managed"
DEMO_REPOSITORY = "bluegreen-demo"
NGINX_REPOSITORY = "bluegreen-nginx"
DEMO_VARIANTS = ("flaky", "slow")
"""Canary tests' bad versions (lab/images/demo_variant): flaky answers 500 to ~20 %, slow adds ~200 ms."""
DEMO_VERSIONS = ("v1", "v2", "slow-start", "broken", *DEMO_VARIANTS)


def lab_name() -> str:
    """Compose project name of the lab, prefix of its container names, its label's value."""
    return os.environ.get("BLUEGREEN_LAB_NAME", DEFAULT_LAB_NAME)


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"BLUEGREEN_LAB_{name}_PORT", default))


@dataclass(frozen=True)
class Ports:
    server_v2: int
    server_v1: int
    server_nofwd: int
    """The compose v2 server whose sshd forbids TCP forwarding (AllowTcpForwarding no)."""
    registry: int
    private_registry: int
    """The registry that wants a login (lab/private_registry.py)."""
    http: int
    blue: int
    green: int


def ports() -> Ports:
    return Ports(
        server_v2=_port("SERVER_V2", 22220),
        server_v1=_port("SERVER_V1", 22221),
        server_nofwd=_port("SERVER_NOFWD", 22222),
        registry=_port("REGISTRY", 15000),
        private_registry=_port("PRIVATE_REGISTRY", 21700),
        http=_port("HTTP", 18080),
        blue=_port("BLUE", 18081),
        green=_port("GREEN", 18082),
    )


@dataclass(frozen=True)
class FleetSettings:
    """The lab's fleet: BLUEGREEN_LAB_FLEET hosts (0: none), each a network namespace with its own
    Docker engine and sshd, on a private subnet that exists only in the namespaces the lab makes and on
    the one veth end the root namespace reaches them through; a load balancer on 127.0.0.1."""

    size: int
    subnet: ipaddress.IPv4Network
    lb_port: int
    ssh_port: int = 22

    @property
    def root_address(self) -> str:
        """The root namespace's address on the fleet's bridge (its veth end)."""
        return str(self.subnet.network_address + 1)

    def address(self, index: int) -> str:
        """Host `index` (1-based) is .11, .12, ... of the subnet."""
        return str(self.subnet.network_address + 10 + index)


def fleet_settings() -> FleetSettings:
    size = int(os.environ.get("BLUEGREEN_LAB_FLEET", "3"))
    subnet = ipaddress.IPv4Network(os.environ.get("BLUEGREEN_LAB_FLEET_SUBNET", "10.218.0.0/24"))
    room = subnet.num_addresses - 12
    if not 0 <= size <= room:
        raise ValueError(f"BLUEGREEN_LAB_FLEET={size}: from 0 to {room} hosts fit in {subnet}")
    return FleetSettings(size=size, subnet=subnet, lb_port=_port("FLEET_LB", 18090))


def fleet_names(name: str, size: int) -> tuple[str, str, list[str]]:
    """(the bridge's namespace, the root namespace's veth end, the hosts' namespaces) of lab `name`.
    The veth end lives in the root namespace, so its name is short (15 characters at most) and
    unique per lab."""
    short = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name}-fleet-br", f"bgf{short}", [f"{name}-fleet-h{i}" for i in range(1, size + 1)]


@dataclass(frozen=True)
class LabPaths:
    """Files of one lab under $BLUEGREEN_LAB_DIR."""

    root: Path

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def client_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.ssh_dir / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    def host_key(self, flavour: str) -> Path:
        return self.ssh_dir / f"ssh_host_ed25519_key_{flavour}"

    def home(self, flavour: str) -> Path:
        return self.root / "home" / flavour

    @property
    def registry_data(self) -> Path:
        """Registry storage: kept by `lab down`, like the cached images."""
        return self.root / "registry"

    @property
    def fleet_dir(self) -> Path:
        """The fleet's engines (data, sockets, pid files), deploy dirs, relay and load balancer."""
        return self.root / "fleet"

    @property
    def env_file(self) -> Path:
        return self.root / "lab.env"

    @property
    def info_file(self) -> Path:
        return self.root / "lab.json"

    @property
    def lock_file(self) -> Path:
        return self.root.with_name(self.root.name + ".lock")


def lab_paths() -> LabPaths:
    root = os.environ.get("BLUEGREEN_LAB_DIR", f"/tmp/{lab_name()}")
    return LabPaths(Path(root).resolve())


def keep_lab() -> bool:
    """BLUEGREEN_LAB_KEEP=1: tests leave the lab up for the next session."""
    return os.environ.get("BLUEGREEN_LAB_KEEP", "") not in ("", "0")
