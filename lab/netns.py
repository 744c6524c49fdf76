"""Network namespaces of the lab's fleet, and the links that join them.

One namespace holds a Linux bridge and nothing else; each host's namespace has a veth pair to it
(`eth0` inside the host, its address on the fleet's subnet, no default route); the root namespace has
one veth end on the bridge too, with the subnet's first address, so this machine reaches every
host's address and nothing leaves the machine. Bridged traffic crosses only the bridge namespace's
own (empty) firewall: the root namespace's firewall is never touched.

Commands are built as argv by pure functions and run with `ip`; namespaces are entered with
`nsenter --net=...` only (not `ip netns exec`, which also remounts /sys and hides the cgroups a
Docker engine needs).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")
BRIDGE = "br0"
HOST_INTERFACE = "eth0"
ROOT_PORT = "root"
"""The bridge port (in the bridge namespace) whose peer is the root namespace's veth end."""


def namespace_file(name: str) -> Path:
    return NETNS_DIR / name


def bridge_commands(bridge_ns: str, root_end: str, root_cidr: str) -> list[list[str]]:
    """Makes the bridge namespace, its bridge, and the root namespace's veth end on it."""
    return [
        ["ip", "netns", "add", bridge_ns],
        ["ip", "-n", bridge_ns, "link", "set", "lo", "up"],
        ["ip", "-n", bridge_ns, "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "-n", bridge_ns, "link", "set", BRIDGE, "up"],
        ["ip", "link", "add", root_end, "type", "veth", "peer", "name", ROOT_PORT, "netns", bridge_ns],
        ["ip", "-n", bridge_ns, "link", "set", ROOT_PORT, "master", BRIDGE, "up"],
        ["ip", "addr", "add", root_cidr, "dev", root_end],
        ["ip", "link", "set", root_end, "up"],
    ]


def bridge_port(index: int) -> str:
    return f"h{index}"


def host_commands(bridge_ns: str, host_ns: str, index: int, host_cidr: str) -> list[list[str]]:
    """Makes host `index`'s namespace, joined to the bridge, with `host_cidr` on its eth0."""
    port = bridge_port(index)
    peer = ["peer", "name", HOST_INTERFACE, "netns", host_ns]
    return [
        ["ip", "netns", "add", host_ns],
        ["ip", "-n", host_ns, "link", "set", "lo", "up"],
        ["ip", "-n", bridge_ns, "link", "add", port, "type", "veth", *peer],
        ["ip", "-n", bridge_ns, "link", "set", port, "master", BRIDGE, "up"],
        ["ip", "-n", host_ns, "addr", "add", host_cidr, "dev", HOST_INTERFACE],
        ["ip", "-n", host_ns, "link", "set", HOST_INTERFACE, "up"],
    ]


def run_all(commands: list[list[str]]) -> None:
    for argv in commands:
        subprocess.run(argv, check=True, capture_output=True)


def exists(name: str) -> bool:
    return namespace_file(name).exists()


def has_address(namespace: str | None, interface: str, cidr: str) -> bool:
    """Whether `interface` (in `namespace`, or the root namespace) is up with address `cidr`."""
    prefix = ["ip", "-n", namespace] if namespace else ["ip"]
    done = subprocess.run([*prefix, "-o", "addr", "show", "dev", interface], capture_output=True, check=False)
    return done.returncode == 0 and f" {cidr} " in done.stdout.decode() and interface_up(namespace, interface)


def interface_up(namespace: str | None, interface: str) -> bool:
    prefix = ["ip", "-n", namespace] if namespace else ["ip"]
    done = subprocess.run([*prefix, "-o", "link", "show", "dev", interface], capture_output=True, check=False)
    return done.returncode == 0 and ",UP" in done.stdout.decode()


def identity(name: str) -> tuple[int, int] | None:
    """(device, inode) of namespace `name`; None when there is no such namespace."""
    try:
        found = os.stat(namespace_file(name))
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def namespace_of(pid: int) -> tuple[int, int] | None:
    """(device, inode) of the network namespace process `pid` is in."""
    try:
        found = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    return found.st_dev, found.st_ino


def processes_in(name: str) -> list[int]:
    """The pids whose network namespace is `name` (found through /proc, not by their names)."""
    target = identity(name)
    if target is None:
        return []
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids if namespace_of(pid) == target]


def delete(name: str) -> None:
    if exists(name):
        subprocess.run(["ip", "netns", "del", name], check=True, capture_output=True)


def delete_link(interface: str) -> None:
    """Deletes a root-namespace link (and so its veth peer) when it exists."""
    subprocess.run(["ip", "link", "del", interface], check=False, capture_output=True)
