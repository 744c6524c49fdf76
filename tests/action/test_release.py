"""The release workflow pushes the image that the action.yml it tags runs: both come from
tools/release.py, tested here as pure functions and as the workflow calls them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.action.repository import ACTION, ROOT
from tools.release import plan, released_action_yml

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def test_plan_tags_the_version_its_minor_and_major() -> None:
    release = plan("v1.12.3", "Our-Org/bluegreen")
    assert release.image == "ghcr.io/our-org/bluegreen"
    assert release.versions == ("v1.12.3", "v1.12", "v1")
    assert release.tags == (
        "ghcr.io/our-org/bluegreen:v1.12.3",
        "ghcr.io/our-org/bluegreen:v1.12",
        "ghcr.io/our-org/bluegreen:v1",
    )
    for bad in ("1.2.3", "v1.2", "v1.2.3-rc1", "v01.2.3"):
        with pytest.raises(ValueError):
            plan(bad, ACTION)
    with pytest.raises(ValueError):
        plan("v1.2.3", "no-slash")


def test_released_action_yml_runs_the_pushed_image_and_changes_nothing_else() -> None:
    text = (ROOT / "action.yml").read_text()
    release = plan("v1.2.3", ACTION)
    released = released_action_yml(text, release)
    before: dict[str, Any] = yaml.safe_load(text)
    after: dict[str, Any] = yaml.safe_load(released)
    assert before["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert after["runs"] == {"using": "docker", "image": f"docker://ghcr.io/{ACTION}:v1.2.3"}
    assert after["runs"]["image"].removeprefix("docker://") in release.tags
    assert {**after, "runs": before["runs"]} == before
    assert len(released.splitlines()) == len(text.splitlines())
    with pytest.raises(ValueError):
        released_action_yml(released, release)  # only an unreleased action.yml is rewritten


def test_the_workflow_pushes_the_planned_tags_and_rewrites_action_yml(tmp_path: Path) -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["image"]["steps"]
    by_name = {step.get("id") or step.get("name"): step for step in steps}
    assert 'python3 -m tools.release plan "$VERSION" "$GITHUB_REPOSITORY"' in by_name["plan"]["run"]
    assert by_name["Push"]["with"]["tags"] == "${{ steps.plan.outputs.tags }}"
    tagging = by_name["Tag the release commit"]
    assert 'python3 -m tools.release rewrite "$VERSION" "$GITHUB_REPOSITORY"' in tagging["run"]
    assert tagging["env"]["VERSIONS"] == "${{ steps.plan.outputs.versions }}"
    assert by_name["plan"]["env"]["VERSION"] == tagging["env"]["VERSION"] == "${{ github.ref_name }}"

    # As the workflow runs them, in a copy of the checkout's action.yml.
    (tmp_path / "action.yml").write_text((ROOT / "action.yml").read_text())
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    planned = subprocess.run(
        [sys.executable, "-m", "tools.release", "plan", "v2.0.1", ACTION],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    outputs = dict(line.split("=", 1) for line in planned.splitlines())
    subprocess.run(
        [sys.executable, "-m", "tools.release", "rewrite", "v2.0.1", ACTION],
        cwd=tmp_path,
        env=env,
        check=True,
    )
    image = yaml.safe_load((tmp_path / "action.yml").read_text())["runs"]["image"]
    assert image == outputs["action-image"]
    assert image.removeprefix("docker://") in outputs["tags"].split(",")
    assert outputs["versions"].split() == ["v2.0.1", "v2.0", "v2"]
