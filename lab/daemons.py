"""Background processes of the lab's fleet (Docker engines, the registry relay), known by pid file.

A daemon is started detached (`setsid -f`, its output in a log file) and writes its own pid file; it
is alive when that pid runs the expected program (its /proc cmdline, not a name match), and it is
stopped by that pid alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def pid_of(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def cmdline(pid: int) -> list[str]:
    """The process's argv; [] when it is gone or a zombie."""
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return []
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def running(pid_file: Path, marker: str) -> int | None:
    """The pid in `pid_file` when that process is alive and `marker` is one of its arguments."""
    pid = pid_of(pid_file)
    if pid is None:
        return None
    return pid if marker in cmdline(pid) else None


def start_detached(argv: list[str], log: Path, cwd: Path | None = None) -> None:
    """Starts `argv` in a session of its own, outliving this process; output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        subprocess.run(
            ["setsid", "--fork", *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True, cwd=cwd
        )


def stop(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; returns once the process is gone."""
    signals = [signal.SIGTERM, signal.SIGKILL]
    for number in signals:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + (timeout if number == signal.SIGTERM else 5)
        while time.monotonic() < deadline:
            if not cmdline(pid):
                return
            time.sleep(0.05)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
