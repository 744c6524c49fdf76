"""The action's image, built as GitHub builds it (`docker build` of the Dockerfile, no build args).

Its FROM image cannot be pulled here: lab.action_image builds an equivalent offline first."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lab.action_image import ensure_base_image
from tests.e2e.apps import App, reset

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "bluegreen-action:lab"


def _image_id(tag: str) -> str:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True
    )
    return done.stdout.strip()


@contextmanager
def replace_image(tag: str) -> Iterator[None]:
    """Around a rebuild of `tag`: remove the image it replaced, so rebuilds leave no dangling ones."""
    before = _image_id(tag)
    yield
    if before and _image_id(tag) != before:
        subprocess.run(["docker", "image", "rm", before], capture_output=True)


@pytest.fixture(scope="session")
def action_image() -> str:
    ensure_base_image()
    with replace_image(IMAGE):
        done = subprocess.run(
            ["docker", "build", "--quiet", "--tag", IMAGE, str(ROOT)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    assert done.returncode == 0, f"docker build failed:\n{done.stdout}\n{done.stderr}"
    return IMAGE


@pytest.fixture
def app(lab: dict[str, Any]) -> Iterator[App]:
    """The app the action tests deploy (its ports match tests/action/workflows/deploy-lab.yml)."""
    app = App(lab, name="actionapp", http_port=18280, blue_port=18281, green_port=18282)
    reset(app)
    yield app
    reset(app)
