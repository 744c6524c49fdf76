"""Static checks of the action's packaging: action.yml, the Dockerfile, and the workflows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.config import ACTION_YML, input_specs
from tests.action.repository import ACTION

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LAB_WORKFLOW = ROOT / "tests" / "action" / "workflows" / "deploy-lab.yml"
# For users to copy; under docs/ so that it never runs here.
EXAMPLE = ROOT / "docs" / "example-deploy.yml"
ZIZMOR = Path(sys.executable).parent / "zizmor"


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    return document


def test_action_yml_is_a_docker_action_with_documented_inputs_and_outputs() -> None:
    action = load(ACTION_YML)
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert action["name"] and action["description"] and action["branding"]
    for name, spec in action["inputs"].items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), name
        assert spec.get("description"), name
        assert "required" in spec, name
        assert spec["required"] or "default" in spec, f"{name}: optional inputs need a default"
    assert {"active-color", "previous-color", "status", "duration-seconds"} <= set(action["outputs"])
    assert all(spec.get("description") for spec in action["outputs"].values())


def test_dockerfile_is_pinned_and_starts_the_entrypoint_directly() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["/usr/local/bin/python", "/action/entrypoint.py"]' in dockerfile
    assert "pip install -r /action/requirements.txt" in dockerfile
    for source in ("action.yml", "bluegreen/", "entrypoint.py"):
        assert re.search(rf"^COPY {re.escape(source)} /action/", dockerfile, re.MULTILINE), source


def test_requirements_are_pinned() -> None:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[0-9][A-Za-z0-9.]*", line), line


def test_workflows_pass_zizmor() -> None:
    done = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", *map(str, WORKFLOWS), str(LAB_WORKFLOW), str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize(("path", "uses"), [(EXAMPLE, f"{ACTION}@v1"), (LAB_WORKFLOW, "./")])
def test_workflows_use_declared_inputs_and_read_the_outputs(path: Path, uses: str) -> None:
    steps = _steps(load(path))
    ours = [step for step in steps if step.get("uses") == uses]
    assert ours and any(step.get("id") == "deploy" for step in ours)
    for step in ours:
        assert set(step["with"]) <= set(input_specs()), step["with"]
        required = {name for name, spec in input_specs().items() if spec.required}
        assert required <= set(step["with"]), f"{required - set(step['with'])} missing"
    later = steps[steps.index(next(s for s in ours if s.get("id") == "deploy")) + 1 :]
    assert any("steps.deploy.outputs.active-color" in str(step) for step in later)
