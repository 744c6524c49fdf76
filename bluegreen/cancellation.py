"""Cancellation by signal: SIGINT (what a cancelled workflow sends first, through `docker run`) and
SIGTERM (what it sends 7.5 s later; `docker stop`) raise `Cancelled` in the main thread, wherever
it is, so that the routine's cleanup runs before the process exits.

Raised in the middle of writing an SSH message, it would leave half a packet on the connection,
and the cleanup would then find the connection dead (paramiko even turns an exception raised
inside its socket write into EOFError). Code that must not be cut short runs `shielded()`: a signal
that arrives there is raised as soon as the outermost shielded block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from types import FrameType
from typing import ParamSpec, TypeVar

from bluegreen.errors import Cancelled

P = ParamSpec("P")
T = TypeVar("T")


CANCELLING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Shield:
    """Only the main thread is ever interrupted by a signal handler, so only it keeps a depth."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: Cancelled | None = None


_shield = _Shield()


def install() -> None:
    """Turn SIGINT and SIGTERM into `Cancelled` (only the main thread can install a signal handler)."""
    if threading.current_thread() is threading.main_thread():
        for signum in CANCELLING_SIGNALS:
            signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    cancelled = Cancelled(f"cancelled by signal {signal.Signals(signum).name}")
    if _shield.depth:
        _shield.pending = _shield.pending or cancelled
        return
    raise cancelled


@contextmanager
def shielded() -> Iterator[None]:
    """Run the block whole; a cancellation that arrives meanwhile is raised when it ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _shield.depth += 1
    try:
        yield
    finally:
        _shield.depth -= 1
        if not _shield.depth and _shield.pending is not None:
            pending, _shield.pending = _shield.pending, None
            raise pending


def shielding(function: Callable[P, T]) -> Callable[P, T]:
    """`function`, run shielded."""

    @wraps(function)
    def run_whole(*args: P.args, **kwargs: P.kwargs) -> T:
        with shielded():
            return function(*args, **kwargs)

    return run_whole
