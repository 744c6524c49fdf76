"""The lab registry inside the fleet's hosts: `python -m lab.registry_relay PORT PIDFILE NETNS...`.

The registry listens on 127.0.0.1:PORT of the root namespace only. This process opens a listening
socket on 127.0.0.1:PORT inside each given network namespace (a socket keeps the namespace it was
made in) and carries every connection to 127.0.0.1:PORT of the root namespace. So an image named
`127.0.0.1:PORT/repo:tag` is pulled by a fleet host's engine exactly as by the machine's own engine
(Docker trusts a registry on 127.0.0.0/8 over plain HTTP), and no firewall rule or extra address is
needed. The pid file is written once every socket listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import socket
import sys
from pathlib import Path

from lab.netns import namespace_file

CLONE_NEWNET = 0x40000000
LOOPBACK = "127.0.0.1"
CHUNK = 1 << 16


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def listen_inside(namespace: str, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:port of network namespace `namespace`; this thread comes
    back to its own namespace before returning."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(namespace_file(namespace), os.O_RDONLY)
    try:
        _setns(target)
        try:
            listener = socket.create_server((LOOPBACK, port))
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
    listener.setblocking(False)
    return listener


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def _relay(port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(LOOPBACK, port)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
    finally:
        for end in (writer, upstream_writer):
            end.close()
            with contextlib.suppress(OSError):
                await end.wait_closed()


async def serve(port: int, listeners: list[socket.socket], pid_file: Path) -> None:
    servers = [
        await asyncio.start_server(lambda r, w: _relay(port, r, w), sock=listener) for listener in listeners
    ]
    tmp = pid_file.with_name(pid_file.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(pid_file)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.registry_relay", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("pid_file", type=Path)
    parser.add_argument("namespaces", nargs="+")
    args = parser.parse_args(argv)
    listeners = [listen_inside(namespace, args.port) for namespace in args.namespaces]
    asyncio.run(serve(args.port, listeners, args.pid_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
