"""tools/system_packages.py, run as `make` runs it, against a fake apt-get (and sudo) on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.system_packages import manual_command, privilege_prefix

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "system_packages.py"
FAKE = "bluegreen-fake-tool"

# Logs its arguments; `install` "installs" each package as a program of that name next to itself.
WORKING_APT = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/apt.log"
if [ "$1" = install ]; then
  for arg in "$@"; do
    case "$arg" in
      -*|install) ;;
      *) printf '#!/bin/sh\\n' > "$(dirname "$0")/$arg"; chmod +x "$(dirname "$0")/$arg";;
    esac
  done
fi
"""
BROKEN_APT = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/apt.log"
echo "E: Unable to locate package $5" >&2
exit 100
"""
# Whoever runs the tests: a sudo that never asks for a password.
SUDO = """#!/bin/sh
[ "$1" = -n ] && shift
exec "$@"
"""


def fake_bin(tmp_path: Path, apt: str | None) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("apt-get", apt), ("sudo", SUDO)):
        if text is not None:
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
    return bin_dir


def run_setup(bin_dir: Path, *packages: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *packages], env=env, capture_output=True, text=True, check=False
    )


def apt_calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_missing_package_is_installed_with_apt_get(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, WORKING_APT)
    done = run_setup(bin_dir, FAKE, "sh")
    assert done.returncode == 0, done.stderr
    assert apt_calls(bin_dir) == [f"install -y -qq --no-install-recommends {FAKE}"]
    assert (bin_dir / FAKE).exists()
    assert done.stdout == f"installing system packages: {FAKE}\n"

    again = run_setup(bin_dir, FAKE)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len(apt_calls(bin_dir)) == 1


def test_a_failed_install_is_one_line_with_the_command(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, BROKEN_APT)
    done = run_setup(bin_dir, FAKE)
    assert done.returncode == 1
    assert done.stderr == (
        f"make: installing {FAKE} failed (E: Unable to locate package {FAKE}): "
        f"run sudo apt-get install {FAKE}\n"
    )
    # It retried after refreshing the package lists, as a fresh machine needs.
    assert [call.split()[0] for call in apt_calls(bin_dir)] == ["install", "update", "install"]


def test_without_apt_get_it_names_the_packages(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, None)
    env = {**os.environ, "PATH": str(bin_dir)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), FAKE, "openssh-client"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"make: missing system packages: {FAKE} openssh-client; install them with your package manager "
        f"(Debian/Ubuntu: sudo apt-get install {FAKE} openssh-client)\n"
    )


@pytest.mark.parametrize(
    ("euid", "sudo_works", "prefix"), [(0, False, []), (1000, True, ["sudo", "-n"]), (1000, False, None)]
)
def test_root_or_passwordless_sudo_or_nothing(euid: int, sudo_works: bool, prefix: list[str] | None) -> None:
    assert privilege_prefix(euid, sudo_works) == prefix


def test_the_manual_command() -> None:
    assert (
        manual_command(["mmdebstrap", "openssh-client"]) == "sudo apt-get install mmdebstrap openssh-client"
    )
