"""Which TCP ports the processes of given containers listen on, read from /proc (host network:
their sockets are in this machine's tables)."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable
from pathlib import Path

from docker.models.containers import Container

LISTEN = "0A"


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir() if fd_dir.is_dir() else []:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(hex_address, 16)))
    words = struct.pack("<4I", *struct.unpack(">4I", bytes.fromhex(hex_address)))
    return socket.inet_ntop(socket.AF_INET6, words)


def _listeners() -> dict[str, tuple[str, int]]:
    """Socket inode -> (address, port) of every listening TCP socket of this network namespace."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != LISTEN:
                continue
            hex_address, hex_port = fields[1].split(":")
            found[fields[9]] = (_address(hex_address), int(hex_port, 16))
    return found


def listening_sockets_of(containers: Iterable[Container]) -> set[tuple[str, int]]:
    """(address, port) of the listening TCP sockets held by the containers' processes."""
    listeners = _listeners()
    held: set[tuple[str, int]] = set()
    for container in containers:
        top = container.top()
        pid_column = top["Titles"].index("PID")
        for process in top["Processes"]:
            for inode in _socket_inodes(int(process[pid_column])):
                if inode in listeners:
                    held.add(listeners[inode])
    return held
