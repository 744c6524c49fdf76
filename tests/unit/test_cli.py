"""The CLI: subcommands that explain themselves, flags grouped from action.yml, a config file,
secrets from files or the environment, and errors that name flags."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bluegreen import cli
from bluegreen.cli_inputs import Gathered
from bluegreen.config import input_specs, parse_inputs
from bluegreen.deploy import Result
from bluegreen.errors import InputError

PASSPHRASE = "correct horse"
ENCRYPTED_KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    .decode()
)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: ${BLUEGREEN_IMAGE}\n")
    (tmp_path / "key").write_text(ENCRYPTED_KEY)
    (tmp_path / "passphrase").write_text(PASSPHRASE + "\n")
    (tmp_path / "app.env").write_text("DATABASE_URL=postgres://db/shop\n")
    return tmp_path


BASE = [
    "--host",
    "deploy.example.com",
    "--username",
    "deploy",
    "--ssh-key-file",
    "key",
    "--known-hosts",
    "deploy.example.com ssh-ed25519 AAAA",
    "--app-name",
    "shop",
    "--compose-file",
    "compose.yml",
]


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return capsys.readouterr().out


def error_of(
    argv: list[str], capsys: pytest.CaptureFixture[str], environ: dict[str, str] | None = None
) -> str:
    assert cli.main(argv, environ or {}) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def gathered(argv: list[str], environ: dict[str, str] | None = None) -> Gathered:
    args = cli.build_parser().parse_args(argv)
    result = Gathered()
    result.fill(args.command, cli.flag_values(args), args.config, environ or {})
    return result


def test_every_input_has_a_help_group() -> None:
    grouped = [name for names in cli.GROUPS.values() for name in names]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == set(input_specs()) - {"command"}, "add new inputs to cli.GROUPS"


def test_top_level_help_says_what_each_command_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for command, description in cli.DESCRIPTIONS.items():
        assert f"{command} {' '.join(description.split())}" in out


def test_version_comes_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"bluegreen {cli.version()}\n"
    assert cli.version()[0].isdigit()


def test_deploy_help_groups_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_text("deploy", capsys)
    sections = [line for line in out.splitlines() if line.endswith("options:")]
    assert sections == [
        "options:",
        "connection options:",
        "app options:",
        "proxy options:",
        "timing options:",
        "fleet options:",
        "registry options:",
        "notification options:",
        "canary options:",
        "general options:",
    ]
    timing = out.split("timing options:")[1].split("general options:")[0]
    assert "--drain-timeout" in timing and "--host " not in timing
    assert "--env-file PATH" in out.split("app options:")[1]


def test_status_shows_only_its_own_flags(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = help_text("status", capsys)
    assert "--host HOST" in out and "--app-name" in out and "--remote-dir" in out
    for irrelevant in (
        "--compose-file",
        "--nginx-template",
        "--health-timeout",
        "--drain-timeout",
        "--image",
    ):
        assert irrelevant not in out
    # ...but one command line (or config file) serves every command.
    assert gathered(["status", *BASE, "--drain-timeout", "5"]).raw["drain-timeout"] == "5"


def test_boolean_inputs_are_switches(workspace: Path) -> None:
    assert (
        gathered(["status", *BASE, "--insecure-skip-host-key-check"]).raw["insecure-skip-host-key-check"]
        == "true"
    )
    assert (
        gathered(["status", *BASE, "--no-insecure-skip-host-key-check"]).raw["insecure-skip-host-key-check"]
        == "false"
    )
    assert "insecure-skip-host-key-check" not in gathered(["status", *BASE]).raw


def test_errors_name_flags(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    without_host = [arg for arg in BASE if arg not in ("--host", "deploy.example.com")]
    assert error_of(["deploy", *without_host], capsys) == (
        "error: --host: is required but empty. Give --host (or `host:` in the --config file)"
    )
    assert error_of(["deploy", *BASE], capsys) == (
        "error: --ssh-key-passphrase: is needed: the key is encrypted. "
        "Set --ssh-key-passphrase-file (or $BLUEGREEN_SSH_KEY_PASSPHRASE)"
    )
    assert error_of(["deploy", *BASE, "--port", "99999"], capsys).startswith(
        "error: --port: is '99999', not a port."
    )
    assert error_of(["deploy", *BASE, "--env-file", "missing.env"], capsys).startswith(
        "error: --env-file: cannot be read"
    )


def test_the_action_keeps_its_wording() -> None:
    error = InputError("compose-file", "is required to deploy but empty")
    assert (
        str(error)
        == "input 'compose-file': is required to deploy but empty. Set `compose-file` in the step's `with:`"
    )
    error = InputError(
        "known-hosts", "is empty", "Set `known-hosts` (or `host-fingerprint`), see `ssh-keyscan`"
    )
    assert (
        str(error)
        == "input 'known-hosts': is empty. Set `known-hosts` (or `host-fingerprint`), see `ssh-keyscan`"
    )


def test_secrets_come_from_files_or_the_environment(workspace: Path) -> None:
    from_file = gathered(
        ["deploy", *BASE, "--ssh-key-passphrase-file", "passphrase", "--env-file", "app.env"]
    )
    config = parse_inputs(from_file.raw, workspace)
    assert config.app_env == (("DATABASE_URL", "postgres://db/shop"),)
    from_env = gathered(["deploy", *BASE], {"BLUEGREEN_SSH_KEY_PASSPHRASE": PASSPHRASE})
    assert from_env.origins["ssh-key-passphrase"] == "$BLUEGREEN_SSH_KEY_PASSPHRASE"
    assert parse_inputs(from_env.raw, workspace).ssh_key.get_name() == "ssh-ed25519"


def test_a_wrong_passphrase_names_where_it_came_from(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = error_of(["deploy", *BASE], capsys, {"BLUEGREEN_SSH_KEY_PASSPHRASE": "wrong"})
    assert line.startswith("error: $BLUEGREEN_SSH_KEY_PASSPHRASE: does not decrypt the key.")


def test_config_file_holds_the_inputs_and_flags_override_it(workspace: Path) -> None:
    (workspace / "deploy.yml").write_text(
        "host: deploy.example.com\nusername: deploy\nssh-key-file: key\nport: 2222\n"
        "insecure-skip-host-key-check: true\napp-name: shop\ncompose-file: [compose.yml]\n"
    )
    values = gathered(["deploy", "--config", "deploy.yml", "--port", "2200"]).raw
    assert values["port"] == "2200"
    assert values["insecure-skip-host-key-check"] == "true"
    assert values["ssh-key"] == ENCRYPTED_KEY
    assert values["compose-file"] == "compose.yml"
    assert values["command"] == "deploy"


def test_file_paths_may_start_with_home(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(workspace))
    assert (
        gathered(["status", *BASE, "--env-file", "~/app.env"]).raw["env"]
        == "DATABASE_URL=postgres://db/shop\n"
    )


def test_config_file_errors(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "typo.yml").write_text("hosst: deploy.example.com\n")
    assert error_of(["deploy", "--config", "typo.yml"], capsys) == (
        "error: --config: 'hosst' in typo.yml is not an input of bluegreen. Did you mean 'host'?"
    )
    (workspace / "list.yml").write_text("- host\n")
    assert "is not a mapping" in error_of(["deploy", "--config", "list.yml"], capsys)
    (workspace / "passphrase.yml").write_text("ssh-key-passphrase: wrong\n")
    line = error_of(["deploy", *BASE, "--config", "passphrase.yml"], capsys)
    assert line.startswith("error: `ssh-key-passphrase` in passphrase.yml: does not decrypt the key.")


def test_status_says_who_deployed_the_live_color_and_when() -> None:
    result = Result(
        command="status",
        status="ok",
        app_name="shop",
        active_color="green",
        previous_color="blue",
        image="registry.example.com/shop:2",
        duration_seconds=0.4,
        deployed_at="2026-11-25T07:00:00Z",
        deployed_by="octocat (github run 42)",
    )
    assert cli.summary_lines(result) == [
        "ok: shop live color green (was blue)",
        "deployed 2026-11-25T07:00:00Z by octocat (github run 42)",
        "image registry.example.com/shop:2",
        "not locked",
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_cancel_at_any_moment_of_start_up_is_one_error_line(signum: int, tmp_path: Path) -> None:
    """Ctrl-C, or a cancelled workflow, while Python imports bluegreen, parses flags, decrypts the
    key or connects (to a server that never answers): exit 1 and one line, never a traceback.
    The clock starts when bluegreen's handler is in place (before it, Python's own start-up)."""
    unanswering = socket.create_server(("127.0.0.1", 0))
    (tmp_path / "key").write_text(ENCRYPTED_KEY)
    port = str(unanswering.getsockname()[1])
    argv = [sys.executable, "-m", "bluegreen", "status", "--host", "127.0.0.1", "--port", port]
    argv += ["--username", "deploy", "--ssh-key-file", "key", "--insecure-skip-host-key-check"]
    argv += ["--app-name", "shop"]
    checkout = str(Path(cli.__file__).parents[1])
    environ = {**os.environ, "BLUEGREEN_SSH_KEY_PASSPHRASE": PASSPHRASE, "PYTHONPATH": checkout}
    try:
        for delay in (0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8):
            started = subprocess.Popen(argv, cwd=tmp_path, env=environ, stderr=subprocess.PIPE, text=True)
            wait_until_it_catches_sigterm(started.pid)
            time.sleep(delay)
            started.send_signal(signum)
            _, stderr = started.communicate(timeout=30)
            assert "Traceback" not in stderr and started.returncode == 1, (delay, stderr)
            assert stderr.splitlines()[-1] == f"error: cancelled by signal {signal.Signals(signum).name}"
    finally:
        unanswering.close()


def wait_until_it_catches_sigterm(pid: int) -> None:
    """Python itself catches only SIGINT; SIGTERM is caught once bluegreen's handler is installed."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.001)
    raise AssertionError("bluegreen never installed its SIGTERM handler")
