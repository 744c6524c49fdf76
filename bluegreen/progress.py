"""Phase timing and progress reporting. The edge decides how phases look in the log."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO


class Reporter(Protocol):
    def phase_started(self, name: str) -> None: ...
    def phase_ended(self, name: str, seconds: float, ok: bool) -> None: ...
    def info(self, message: str) -> None: ...
    def warning(self, message: str) -> None: ...


class StderrReporter:
    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._started = time.monotonic()

    def _print(self, text: str) -> None:
        print(f"[{time.monotonic() - self._started:7.2f}s] {text}", file=self._stream, flush=True)

    def phase_started(self, name: str) -> None:
        self._print(f"==> {name}")

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        self._print(f"{'ok' if ok else 'FAILED'}: {name} ({seconds:.2f}s)")

    def info(self, message: str) -> None:
        self._print(f"    {message}")

    def warning(self, message: str) -> None:
        self._print(f"    WARNING: {message}")


class Timer:
    """Times named phases in order, reporting each start and end."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.phases: dict[str, float] = {}
        self._started = time.monotonic()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.reporter.phase_started(name)
        self.phases.setdefault(name, 0.0)
        started = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            seconds = time.monotonic() - started
            self.phases[name] = round(self.phases[name] + seconds, 3)
            self.reporter.phase_ended(name, seconds, ok)

    def elapsed(self) -> float:
        return round(time.monotonic() - self._started, 3)
