"""The deploy routine end to end in the lab, with traffic flowing through nginx during every switch."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from bluegreen.config import load_private_key
from bluegreen.ssh import HostKeyCheck, connect
from lab.strategies import Target, seed_order
from lab.traffic import Record, Traffic, describe_failures, failures
from tests.e2e.apps import App, reset

pytestmark = pytest.mark.lab

FLAVOURS = {
    "compose-v2": dict(name="e2ev2", http_port=18180, blue_port=18181, green_port=18182, compose_v1=False),
    "compose-v1": dict(name="e2ev1", http_port=18190, blue_port=18191, green_port=18192, compose_v1=True),
}


@pytest.fixture(params=list(FLAVOURS))
def app(lab: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[App]:
    app = App(lab, **FLAVOURS[request.param])  # type: ignore[arg-type]
    reset(app)
    yield app
    reset(app)


def deploy_under_load(app: App, image: str) -> tuple[dict[str, Any], list[Record], float]:
    """Deploy while keep-alive clients and 1 s requests run; return result, records, end time."""
    with Traffic(app.url, clients=8, rate=150, slow_clients=4, slow_ms=1000) as load:
        time.sleep(1.0)
        run = app.deploy(image)
        finished = time.monotonic()
        time.sleep(1.5)
    return run.expect_ok(), load.records, finished


def test_first_deploy_then_switches_with_zero_failed_requests(app: App) -> None:
    images = app.lab["images"]
    first = app.deploy(images["v1"]).expect_ok()
    assert (first["status"], first["active_color"], first["previous_color"]) == ("deployed", "blue", "")
    assert app.get("/")[1] == {"version": "v1", "color": "blue"}

    for image, version, color, previous in [("v2", "v2", "green", "blue"), ("v1", "v1", "blue", "green")]:
        result, records, finished = deploy_under_load(app, images[image])
        assert failures(records) == [], describe_failures(records)
        assert sum(r.slow for r in records) >= 8, "slow requests must be in flight during the switch"
        assert len(records) > 300
        after = [r for r in records if r.start > finished]
        assert after and {(r.version, r.color) for r in after} == {(version, color)}
        assert (result["active_color"], result["previous_color"], result["image"]) == (
            color,
            previous,
            images[image],
        )
        assert {"lock", "detect", "upload", "start", "health", "switch", "verify", "drain"} <= set(
            result["phases"]
        )
        assert app.get("/")[1] == {"version": version, "color": color}

    state = (app.app_dir / "state.json").read_text()
    assert '"active_color": "blue"' in state and '"previous_color": "green"' in state


def test_the_seed_order_of_steps_fails_requests(lab: dict[str, Any]) -> None:
    """The same switch done the seed's way (sleep, copy, reload, stop at once) loses requests."""
    app = App(lab, name="e2eseed", http_port=18170, blue_port=18171, green_port=18172)
    reset(app)
    app.deploy(lab["images"]["v1"]).expect_ok()
    host = connect(
        lab["host"], int(lab["port"]), lab["username"],
        load_private_key(Path(lab["ssh_key_file"]).read_text(), ""),
        HostKeyCheck(known_hosts=Path(lab["known_hosts_file"]).read_text()), 10,
    )  # fmt: skip
    target = Target(
        host, ("docker", "compose"), app.name, str(app.app_dir), Path(lab["compose_file"]),
        Path(lab["nginx_template"]), lab["proxy_image"], {"blue": 18171, "green": 18172}, 18170,
    )  # fmt: skip
    try:
        # 2 s requests, staggered: some are always in flight on the old color when the seed's
        # `compose down` reaches it, about 1 s after its reload.
        with Traffic(app.url, clients=8, rate=150, slow_clients=8, slow_ms=2000, stagger=True) as load:
            time.sleep(2.5)
            seed_order(target, lab["images"]["v2"], lambda phase: None, sleep_seconds=3)
            time.sleep(1.0)
    finally:
        host.close()
        reset(app)
    assert len(failures(load.records)) > 0, "the seed's order should lose in-flight requests"


def test_images_a_redeployed_color_no_longer_uses_are_removed(lab: dict[str, Any]) -> None:
    """v-old on blue, v2 on green, v1 on blue again: nothing uses v-old any more, so it goes."""
    client = docker.from_env()
    old = f"{lab['registry']}/bluegreen-demo:old-{secrets.token_hex(3)}"
    dockerfile = f"FROM {lab['images']['v1']}\nLABEL bluegreen.test={secrets.token_hex(4)}\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=old, rm=True)  # an image of its own
    client.images.push(old)
    client.images.remove(old)
    app = App(lab, name="e2eprune", http_port=18160, blue_port=18161, green_port=18162)
    reset(app)
    try:
        app.deploy(old).expect_ok()
        assert client.images.get(old)
        app.deploy(lab["images"]["v2"]).expect_ok()
        run = app.deploy(lab["images"]["v1"])
        run.expect_ok()
        assert f"removed images no container uses any more: {old}" in run.stderr
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(old)
        assert client.images.get(lab["images"]["v2"])  # still used by green's stopped containers
    finally:
        reset(app)
        client.close()
