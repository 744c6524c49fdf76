"""Bad inputs, run as the runner runs the entry point (INPUT_* variables, a subprocess): each one
gives exactly one ::error:: line naming the input, a non-zero exit, and status=failed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.action.runner import assert_secrets_masked, error_lines, input_env, parse_outputs

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse % battery"


def _key(passphrase: str = "") -> str:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
        .decode()
    )


KEY = _key()
ENCRYPTED_KEY = _key(PASSPHRASE)
GARBLED_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END OPENSSH PRIVATE KEY-----\n"
)


def runner_env(workspace: Path, inputs: Mapping[str, str | None]) -> dict[str, str]:
    return {
        **input_env(inputs),
        "PATH": os.environ["PATH"],
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(workspace / "output"),
        "GITHUB_STEP_SUMMARY": str(workspace / "summary"),
    }


VALID = {
    "host": "127.0.0.1",
    "port": "9",
    "username": "deploy",
    "ssh-key": KEY,
    "insecure-skip-host-key-check": "true",
    "app-name": "shop",
    "compose-file": "compose.yml",
}

CASES: list[tuple[str, dict[str, str | None], str]] = [
    ("host missing", {"host": ""}, "host"),
    ("username unset", {"username": None}, "username"),
    ("ssh-key missing", {"ssh-key": ""}, "ssh-key"),
    ("app-name missing", {"app-name": " "}, "app-name"),
    ("compose-file missing", {"compose-file": ""}, "compose-file"),
    ("ssh-key not a key", {"ssh-key": "ghp_notakey"}, "ssh-key"),
    ("ssh-key unreadable", {"ssh-key": GARBLED_KEY}, "ssh-key"),
    ("encrypted key, no passphrase", {"ssh-key": ENCRYPTED_KEY}, "ssh-key-passphrase"),
    (
        "encrypted key, wrong passphrase",
        {"ssh-key": ENCRYPTED_KEY, "ssh-key-passphrase": "wrong"},
        "ssh-key-passphrase",
    ),
    ("port not a number", {"port": "ssh"}, "port"),
    ("port out of range", {"port": "70000"}, "port"),
    ("app-name invalid", {"app-name": "Shop App"}, "app-name"),
    ("command unknown", {"command": "destroy"}, "command"),
    ("compose file absent", {"compose-file": "deploy/missing.yml"}, "compose-file"),
    ("compose file not YAML", {"compose-file": "broken.yml"}, "compose-file"),
    ("nginx template absent", {"nginx-template": "nginx/missing.j2"}, "nginx-template"),
    ("colors share a port", {"blue-port": "8081", "green-port": "8081"}, "green-port"),
    ("boolean invalid", {"insecure-skip-host-key-check": "yes"}, "insecure-skip-host-key-check"),
    ("seconds invalid", {"health-timeout": "soon"}, "health-timeout"),
    ("fingerprint invalid", {"host-fingerprint": "MD5:aa:bb"}, "host-fingerprint"),
    ("remote-dir relative", {"remote-dir": "apps/../etc"}, "remote-dir"),
    ("undeclared input", {"ssh_key": KEY}, "ssh_key"),
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: ${BLUEGREEN_IMAGE}\n")
    (tmp_path / "broken.yml").write_text("services: [unclosed\n")
    return tmp_path


def run_entrypoint(env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("changes", "input_name"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_naming_it(
    workspace: Path, changes: dict[str, str | None], input_name: str
) -> None:
    env = runner_env(workspace, {**VALID, **changes})
    done = run_entrypoint(env, workspace)

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""
    errors = error_lines(done.stdout)
    assert len(errors) == 1, done.stdout
    command = changes.get("command") or "deploy"
    assert errors[0].startswith(f"::error::bluegreen {command} failed: input '{input_name}'")
    assert done.stdout.splitlines()[-1] == errors[0]
    assert_secrets_masked(done.stdout, [env.get("INPUT_SSH-KEY", ""), env["INPUT_SSH-KEY-PASSPHRASE"]])
    assert parse_outputs((workspace / "output").read_text()).keys() == {"status", "duration-seconds"}
    assert parse_outputs((workspace / "output").read_text())["status"] == "failed"
    summary = (workspace / "summary").read_text()
    assert "| Status | failed |" in summary
    assert f"input '{input_name}'" in summary


def test_without_github_files_it_still_reports(workspace: Path) -> None:
    env = runner_env(workspace, {**VALID, "host": ""})
    del env["GITHUB_OUTPUT"], env["GITHUB_STEP_SUMMARY"], env["GITHUB_WORKSPACE"]
    done = run_entrypoint(env, workspace)
    assert done.returncode == 1
    assert error_lines(done.stdout) == [
        "::error::bluegreen deploy failed: input 'host': is required but empty. "
        "Set `host` in the step's `with:`"
    ]
    assert sorted(p.name for p in workspace.iterdir()) == ["broken.yml", "compose.yml"]


def test_workspace_defaults_to_the_working_directory(workspace: Path) -> None:
    env = runner_env(workspace, {**VALID, "compose-file": "elsewhere.yml"})
    del env["GITHUB_WORKSPACE"]
    done = run_entrypoint(env, workspace)
    assert error_lines(done.stdout) == [
        f"::error::bluegreen deploy failed: input 'compose-file': {workspace}/elsewhere.yml does not exist. "
        "Point `compose-file` at the app's compose file, relative to the workspace"
    ]
