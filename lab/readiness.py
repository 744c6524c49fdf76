"""Waiting for the lab's services: sshd banners and the registry's API."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from lab.settings import HOST


class NotReady(RuntimeError):
    pass


def sshd_answers(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.settimeout(2)
            return sock.recv(256).startswith(b"SSH-")
    except OSError:
        return False


def registry_answers(port: int, host: str = HOST) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/v2/", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise NotReady(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.2)
