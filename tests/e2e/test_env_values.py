"""`env` values reach the containers byte for byte, on compose v2 and on docker-compose 1.29.
(A value that starts with a quote is read as compose reads a quoted value: test_dotenv_values.py.)

Compose rewrites `env_file` values it reads unquoted ($VAR expanded, ` #...` cut, spaces
trimmed); bluegreen quotes each value for the compose that reads it. Each value is read back
from inside the running container.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import docker
import pytest

from tests.e2e.apps import App, Run, reset

pytestmark = pytest.mark.lab

VALUES = {
    "DOLLAR_HOME": "s3cr3t$HOME\"q'x#y",
    "HASH_COMMENT": "pass #word",
    "BRACED_AND_DOUBLED": "a${BLUEGREEN_COLOR}b$$c",
    "SINGLE_QUOTES_INSIDE": "x'$USER'",
    "DOUBLE_QUOTE_INSIDE": 'x"hunter2-secret',
    "TRAILING_SPACES": "trailing  ",
    "LEADING_SPACES": "  leading",
    "BACKSLASHES": "back\\slash\\\\n\\",
    "ONE_BACKSLASH": "\\",
    "ESCAPED_QUOTES": "a\\'b\\\"c",
    "EQUALS": "k=v==w",
    "UNICODE": "héllo ☃ 日本 \u202e",
    "DEFAULT_SYNTAX": "${:-x}${}${X:-d}",
    "LONE_DOLLARS": "$ $$ $${",
    "TAB_AND_CR": "a\tb\rc",
    "COMMENT_ONLY": "#not a comment",
    "EMPTY": "",
}


@pytest.fixture(scope="module", params=[False, True], ids=["compose-v2", "compose-v1"])
def app(request: pytest.FixtureRequest, lab: dict[str, Any]) -> Iterator[App]:
    compose_v1: bool = request.param
    ports = (18710, 18711, 18712) if compose_v1 else (18700, 18701, 18702)
    app = App(lab, "envv1" if compose_v1 else "envv2", *ports, compose_v1=compose_v1)
    reset(app)
    yield app
    reset(app)


def compose_with_env_file(lab: dict[str, Any], directory: Path) -> Path:
    compose = Path(lab["compose_file"]).read_text()
    assert "    environment:\n" in compose
    path = directory / "compose.yml"
    path.write_text(
        compose.replace("    environment:\n", '    env_file: ["${BLUEGREEN_ENV_FILE}"]\n    environment:\n')
    )
    return path


def deploy_and_read_back(
    app: App, lab: dict[str, Any], tmp_path: Path, env: str, keys: Iterable[str]
) -> tuple[Run, str, dict[str, bytes]]:
    """Deploy with this `env` input; the run, the color it started, and `printenv KEY` of each key
    inside its container."""
    compose = compose_with_env_file(lab, tmp_path)
    run = app.deploy(lab["images"]["v1"], **{"compose-file": str(compose), "env": env})
    color = run.expect_ok()["active_color"]
    client = docker.from_env()
    label = f"com.docker.compose.project={app.name}-{color}"
    (container,) = client.containers.list(filters={"label": label})
    arrived = {key: container.exec_run(["printenv", key]).output for key in keys}
    client.close()
    assert all(isinstance(output, bytes) for output in arrived.values())
    return run, str(color), cast(dict[str, bytes], arrived)


def test_every_value_arrives_unchanged(app: App, lab: dict[str, Any], tmp_path: Path) -> None:
    env = "".join(f"{key}={value}\n" for key, value in VALUES.items())
    run, color, arrived = deploy_and_read_back(app, lab, tmp_path, env, VALUES)
    assert arrived == {key: value.encode() + b"\n" for key, value in VALUES.items()}
    env_file = app.app_dir / color / "app.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert "hunter2-secret" not in run.stdout + run.stderr
