"""`env` in the dotenv syntax users write (`KEY="hello world"`, `KEY='literal $x'`) reaches the
containers without its quotes, on compose v2 and on docker-compose 1.29; unquoted values still
arrive byte for byte. Each value is read back from inside the running container."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apps import App, reset
from tests.e2e.test_env_values import VALUES, deploy_and_read_back

pytestmark = pytest.mark.lab

QUOTED = {
    # as written in the env input -> what the container sees
    'GREETING="hello world"': ("GREETING", "hello world"),
    "LITERAL='literal $x'": ("LITERAL", "literal $x"),
    'ESCAPES="a\\nb\\"c\\\\d\\$e $f"': ("ESCAPES", 'a\nb"c\\d$e $f'),
    "export EXPORTED='x' # comment": ("EXPORTED", "x"),
    'MULTI="-----BEGIN-----\nAAAA\n-----END-----"': ("MULTI", "-----BEGIN-----\nAAAA\n-----END-----"),
    "SECRET='q-hunter3-secret'": ("SECRET", "q-hunter3-secret"),
}


@pytest.fixture(scope="module", params=[False, True], ids=["compose-v2", "compose-v1"])
def app(request: pytest.FixtureRequest, lab: dict[str, Any]) -> Iterator[App]:
    compose_v1: bool = request.param
    ports = (21513, 21514, 21515) if compose_v1 else (21510, 21511, 21512)
    app = App(lab, "records-dotenv-v1" if compose_v1 else "records-dotenv-v2", *ports, compose_v1=compose_v1)
    reset(app)
    yield app
    reset(app)


def test_quoted_values_arrive_without_quotes_and_unquoted_ones_unchanged(
    app: App, lab: dict[str, Any], tmp_path: Path
) -> None:
    unquoted = {f"{key}={value}": (key, value) for key, value in VALUES.items()}
    expected = dict([*QUOTED.values(), *unquoted.values()])
    env = "".join(f"{line}\n" for line in [*QUOTED, *unquoted])
    run, _, arrived = deploy_and_read_back(app, lab, tmp_path, env, expected)
    assert arrived == {key: value.encode() + b"\n" for key, value in expected.items()}
    assert "hunter3-secret" not in run.stdout + run.stderr
