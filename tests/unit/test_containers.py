"""Docker actions whose failures the lab cannot provoke: a healthcheck that outlives its timeout,
an engine whose address pools are exhausted. The engine is a small stand-in for docker's API
client; bluegreen's own code runs unchanged."""

from __future__ import annotations

import time
from typing import Any

import docker.errors
import pytest

from bluegreen.containers import ensure_network, run_healthcheck
from bluegreen.docker_state import ContainerState
from bluegreen.errors import BluegreenError


class ExecApi:
    """docker's low-level exec API: a command that runs `seconds` long, then exits with `code`."""

    def __init__(self, seconds: float, code: int) -> None:
        self.seconds, self.code, self.started = seconds, code, 0.0

    def exec_create(self, container: str, argv: list[str], **kwargs: Any) -> dict[str, str]:
        return {"Id": "exec-1"}

    def exec_start(self, exec_id: str, detach: bool = False) -> None:
        self.started = time.monotonic()

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        running = time.monotonic() - self.started < self.seconds
        return {"Running": running, "ExitCode": None if running else self.code}


class Client:
    def __init__(self, api: Any = None, networks: Any = None) -> None:
        self.api, self.networks = api, networks


def state(timeout: float) -> ContainerState:
    return ContainerState(
        "shop-blue-web-1", "running", "starting", 0, 0, id="c1", healthcheck=("CMD", "check"),
        healthcheck_timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(("seconds", "code", "timeout", "passes"), [
    (0.0, 0, 1.0, True),
    (0.0, 1, 1.0, False),
    (5.0, 0, 0.3, False),  # over its timeout: failed, as docker counts it, and not waited for
])  # fmt: skip
def test_a_healthcheck_run_by_bluegreen_honours_its_timeout(
    seconds: float, code: int, timeout: float, passes: bool
) -> None:
    started = time.monotonic()
    assert run_healthcheck(Client(api=ExecApi(seconds, code)), state(timeout)) is passes  # type: ignore[arg-type]
    assert time.monotonic() - started < timeout + 0.5


class Networks:
    def list(self, names: list[str]) -> list[str]:
        return []

    def create(self, name: str, **kwargs: Any) -> None:
        raise docker.errors.APIError(
            "400 Client Error", explanation="could not find an available, non-overlapping IPv4 address pool "
            "among the defaults to assign to the network",
        )  # fmt: skip


def test_an_exhausted_address_pool_is_one_error_saying_how_to_free_or_widen_it() -> None:
    with pytest.raises(BluegreenError) as caught:
        ensure_network(Client(networks=Networks()), "bluegreen-shop", "shop")  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("Docker has no address pool left for the network bluegreen-shop")
    assert "docker network prune" in message and "default-address-pools" in message
