"""The action repository: its owner/name is written once (pyproject.toml) and every mention of it
agrees; it has a license; the example workflow cannot run here; CI needs no repository variables."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.action.repository import ACTION, NAME, OWNER, ROOT

# `uses: owner/name@ref`, `ghcr.io/owner/name`: any repository path that names the action.
MENTION = re.compile(rf"(?:uses:\s*|ghcr\.io/)([A-Za-z0-9_.-]+/{re.escape(NAME)})\b")
DOCUMENTS = [
    "README.md",
    "Dockerfile",
    "action.yml",
    "docs/example-deploy.yml",
    ".github/workflows/release.yml",
]


def test_every_mention_of_the_action_is_the_declared_one() -> None:
    seen = 0
    for name in DOCUMENTS:
        for found in MENTION.finditer((ROOT / name).read_text()):
            seen += 1
            assert found[1] == ACTION, f"{name}: {found[0]!r} is not {ACTION} (pyproject.toml)"
    assert seen >= 3  # the README's examples and the example workflow use it
    action: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["author"] == OWNER


def test_license_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "bluegreen authors" in text


def test_no_workflow_here_deploys_on_push() -> None:
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        steps = str(yaml.safe_load(path.read_text())["jobs"])
        assert f"{ACTION}@" not in steps, f"{path.name} runs the published action: move it to docs/"


def test_ci_needs_no_repository_variables() -> None:
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    for found in re.finditer(r"\$\{\{\s*vars\.([A-Z_]+)([^}]*)\}\}", text):
        assert "||" in found[2], f"vars.{found[1]} has no default"
