"""`python -m build` makes a wheel that installs bluegreen, with its console script, into a fresh
virtualenv; the installed CLI reads the action.yml and the nginx template the wheel carries (not
this checkout's) and reaches the lab."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.inputs import as_flags, deploy_inputs

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh venv with the built wheel installed."""
    root = tmp_path_factory.mktemp("package")
    dist = root / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=root)
    wheels = sorted(dist.glob("bluegreen-*.whl"))
    assert len(wheels) == 1 and sorted(dist.glob("bluegreen-*.tar.gz")), sorted(dist.iterdir())
    run([sys.executable, "-m", "venv", str(root / "venv")], cwd=root)
    bin_dir = root / "venv" / "bin"
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheels[0])], cwd=root)
    return bin_dir


def test_installed_cli_explains_itself(installed: Path, tmp_path: Path) -> None:
    help_text = run([str(installed / "bluegreen"), "--help"], cwd=tmp_path).stdout
    assert "deploy" in help_text and "rollback" in help_text and "status" in help_text
    version = run([str(installed / "bluegreen"), "--version"], cwd=tmp_path).stdout
    assert version.startswith("bluegreen 0.") or version.startswith("bluegreen 1.")
    where = run(
        [
            str(installed / "python"),
            "-c",
            "from bluegreen.config import ACTION_YML, DEFAULT_TEMPLATE, input_specs;"
            "print(ACTION_YML); print(DEFAULT_TEMPLATE.is_file()); print(len(input_specs()))",
        ],
        cwd=tmp_path,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(installed.parent), where
    assert where[1:] == ["True", str(len(_checkout_inputs()))]


def _checkout_inputs() -> dict[str, Any]:
    import yaml

    inputs: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    return inputs


def test_installed_cli_reports_status_from_the_lab(
    installed: Path, lab: dict[str, Any], tmp_path: Path
) -> None:
    flags = as_flags(deploy_inputs(lab, "pkgstatus", 18790, 18791, 18792))
    done = run([str(installed / "bluegreen"), "status", *flags, "--json"], cwd=tmp_path, timeout=120)
    result = json.loads(done.stdout.splitlines()[-1])
    assert (result["command"], result["status"], result["app_name"]) == ("status", "ok", "pkgstatus")
    assert result["active_color"] == ""  # never deployed
    assert "ok: pkgstatus live color none" in done.stderr
