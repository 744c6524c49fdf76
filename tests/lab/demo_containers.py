"""Running the demo app images directly on the local engine, on a spare loopback port."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
from docker.models.containers import Container

from lab.settings import LAB_LABEL, lab_name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, timeout: float = 5) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body, headers) of a GET; error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), dict(error.headers)


def wait_for_answer(url: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def running_demo(
    client: docker.DockerClient,
    image: str,
    port: int,
    color: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Container]:
    """The demo app published on 127.0.0.1:port, answering; removed afterwards."""
    environment = {**({"BLUEGREEN_COLOR": color} if color else {}), **(env or {})}
    container = client.containers.run(
        image,
        detach=True,
        environment=environment,
        ports={"8000/tcp": ("127.0.0.1", port)},
        labels={LAB_LABEL: lab_name()},
    )
    try:
        wait_for_answer(f"http://127.0.0.1:{port}/")
        yield container
    finally:
        container.remove(force=True)
