"""The action as GitHub runs it, through `act`: a workflow whose steps are `uses: ./` (act builds
the Dockerfile and runs the image with the step's inputs) deploys v1 then v2 to the lab, and a
later step of the same job checks `steps.deploy.outputs.*`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.action_image import ensure_base_image
from tests.action.conftest import ROOT, replace_image
from tests.action.test_image import PASSPHRASE, encrypted_lab_key
from tests.e2e.apps import App

pytestmark = pytest.mark.lab

WORKFLOW = Path(__file__).resolve().parent / "workflows" / "deploy-lab.yml"
ACT = Path(sys.executable).parent / "act"
ACT_ACTION_IMAGE = "act-dockeraction:latest"  # what act tags a local Dockerfile action as


def test_workflow_deploys_through_act_and_reads_the_outputs(app: App) -> None:
    lab = app.lab
    job_image = ensure_base_image()  # act's job container: any local image with bash will do
    key = encrypted_lab_key(lab)
    variables = {
        "LAB_HOST": lab["host"],
        "LAB_PORT": str(lab["port"]),
        "LAB_USERNAME": lab["username"],
        "LAB_KNOWN_HOSTS": Path(lab["known_hosts_file"]).read_text().strip(),
        "LAB_IMAGE_V1": lab["images"]["v1"],
        "LAB_IMAGE_V2": lab["images"]["v2"],
        "LAB_PROXY_IMAGE": lab["proxy_image"],
        "LAB_REMOTE_DIR": lab["remote_dir"],
    }
    argv = [
        str(ACT), "push",
        "--directory", str(ROOT),
        "--workflows", str(WORKFLOW),
        "--platform", f"ubuntu-latest={job_image}",
        "--pull=false",
        # Secrets by name only: act reads their values from its environment, not from argv.
        "--secret", "LAB_SSH_KEY", "--secret", "LAB_SSH_KEY_PASSPHRASE",
        *(arg for name, value in variables.items() for arg in ("--var", f"{name}={value}")),
    ]  # fmt: skip
    env = {**os.environ, "LAB_SSH_KEY": key, "LAB_SSH_KEY_PASSPHRASE": PASSPHRASE}
    with replace_image(ACT_ACTION_IMAGE):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200, check=False)
    log = done.stdout + done.stderr

    assert done.returncode == 0, log
    assert "outputs checked: active-color=green previous-color=blue status=deployed" in log
    assert "Job succeeded" in log
    for secret in [*key.splitlines(), PASSPHRASE]:
        assert not secret.strip() or secret.strip() not in log
    assert app.get("/")[1] == {"version": "v2", "color": "green"}
