"""An app directory the SSH user cannot write: one error naming the directory and the fix, the
lock given back, nothing else run (the lab test shows it over real SFTP with a root-owned folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.errors import BluegreenError, UnwritableDirectory
from bluegreen.host import writing
from tests.unit.fake_host import FakeHost
from tests.unit.test_routine_failures import APP_DIR, LOCK_HOLDER, fails, fake, workspace

__all__ = ["fake", "workspace"]  # fixtures
PARENT = APP_DIR.rsplit("/", 1)[0]


def test_permission_denied_while_writing_names_the_directory() -> None:
    with pytest.raises(UnwritableDirectory) as caught, writing(f"{APP_DIR}/.lock-holder", "deploy"):
        raise PermissionError(13, "Permission denied")
    assert str(caught.value) == (
        f"deploy cannot write in {APP_DIR} on the host (permission denied). "
        f"Fix: `sudo chown deploy {APP_DIR}` on the server"
    )


def test_a_remote_dir_where_the_app_directory_cannot_be_made(fake: FakeHost, workspace: Path) -> None:
    fake.fail_command("mkdir", stderr=f"mkdir: cannot create directory '{APP_DIR}': Permission denied\n")
    exc = fails(fake, workspace)
    assert str(exc) == (
        f"deploy cannot write in {PARENT} on the host (permission denied). Fix: "
        f"`sudo install -d -o deploy {APP_DIR}` on the server (or a remote-dir deploy owns)"
    )
    assert fake.writes == [] and fake.holds == []


def test_an_app_directory_where_the_lock_file_cannot_be_made(fake: FakeHost, workspace: Path) -> None:
    fake.fail_command(
        "flock", exit_code=66, stderr=f"flock: cannot open lock file {APP_DIR}/.lock: Permission denied"
    )
    exc = fails(fake, workspace)
    assert str(exc).startswith(f"deploy cannot write in {APP_DIR} on the host (permission denied)")
    assert fake.writes == []


def test_an_app_directory_where_the_lock_holder_cannot_be_written(fake: FakeHost, workspace: Path) -> None:
    """flock opens an existing lock file read-only: the first write is the lock holder's."""
    fake.write_failures[LOCK_HOLDER] = UnwritableDirectory(APP_DIR, "deploy")
    exc = fails(fake, workspace, command="rollback")
    assert isinstance(exc, UnwritableDirectory) and exc.directory == APP_DIR
    assert [held.closed for held in fake.holds] == [True]  # the lock is given back at once
    assert fake.writes == [] and fake.engine.ops("start", "stop", "remove", "create") == []


def test_other_failures_of_the_lock_are_not_called_permissions(fake: FakeHost, workspace: Path) -> None:
    fake.fail_command("flock", exit_code=127, stderr="sh: flock: not found")
    exc = fails(fake, workspace)
    assert type(exc) is not UnwritableDirectory and isinstance(exc, BluegreenError)
    assert "needs `flock` on the host" in str(exc)
