"""The two shell scripts UserProxy runs, run for real by this machine's sh, flock, cat and cksum
(issue 17.7: the switch lock inside the user's nginx container; 17.9: copying a config over a
single-file bind mount)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from bluegreen import commands
from bluegreen.host import CommandResult, LocalHost


def test_a_second_app_waits_then_is_told_who_holds_the_switch_lock(tmp_path: Path) -> None:
    host, lock = LocalHost(), str(tmp_path / "switch.lock")
    first = host.hold(
        commands.switch_lock(lock, "app shop (remote-dir /srv/a on h)", 5), commands.LOCK_ACQUIRED, 5
    )
    assert not isinstance(first, CommandResult), first
    started = time.monotonic()
    second = host.hold(commands.switch_lock(lock, "app blog", 1), commands.LOCK_ACQUIRED, 1)
    assert isinstance(second, CommandResult)
    assert (second.exit_code, second.stderr) == (75, "app shop (remote-dir /srv/a on h)\n")
    assert time.monotonic() - started >= 1.0
    first.close()  # the deploy ends or its connection drops: stdin closes, the lock goes
    third = host.hold(commands.switch_lock(lock, "app blog", 1), commands.LOCK_ACQUIRED, 1)
    assert not isinstance(third, CommandResult), third
    third.close()


def test_a_lock_file_that_cannot_be_made_and_a_missing_flock_say_so(tmp_path: Path) -> None:
    result = LocalHost().run(commands.switch_lock(str(tmp_path / "no-such-dir" / "l"), "app shop", 1))
    assert result.exit_code == 73
    assert "no-such-dir/l" in result.stderr
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("sh", "cat", "date", "sleep", "true"):
        (tools / tool).symlink_to(shutil.which(tool) or tool)
    argv = commands.switch_lock(str(tmp_path / "l"), "app shop", 1)
    done = subprocess.run([str(tools / "sh"), *argv[1:]], env={"PATH": str(tools)}, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert (done.returncode, done.stderr) == (69, "no flock command\n")


def test_copy_in_place_keeps_the_inode_and_leaves_nothing_behind(tmp_path: Path) -> None:
    live, staged, backup = tmp_path / "nginx.conf", tmp_path / "next", tmp_path / "previous"
    live.write_bytes(b"old config\n")
    staged.write_bytes(b"new config\n" * 500)
    inode = live.stat().st_ino
    LocalHost().run(commands.copy_in_place(str(staged), str(live), str(backup))).check("copy")
    assert live.read_bytes() == b"new config\n" * 500
    assert live.stat().st_ino == inode
    assert sorted(os.listdir(tmp_path)) == ["nginx.conf"]


def test_a_copy_cut_short_puts_the_previous_content_back(tmp_path: Path) -> None:
    """A write that fails half-way (here: a file size limit of 1 KiB, as a full disk would):
    the live file is never left cut."""
    live, staged, backup = tmp_path / "nginx.conf", tmp_path / "next", tmp_path / "previous"
    live.write_bytes(b"old config\n")
    staged.write_bytes(b"new config\n" * 500)
    argv = commands.copy_in_place(str(staged), str(live), str(backup))
    limited = ["sh", "-c", 'ulimit -f 2; trap "" XFSZ; exec "$@"', "sh", *argv]
    result = LocalHost().run(limited)
    assert result.exit_code == 4, result
    assert f"writing {live} failed; it holds its previous content again" in result.stderr
    assert live.read_bytes() == b"old config\n"
    assert not backup.exists()
