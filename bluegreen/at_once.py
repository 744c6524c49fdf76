"""Work on several hosts at once, in threads, while the main thread waits: a signal (`Cancelled`)
arrives only in the main thread, so it is the one that hears it, tells the threads to stop at their
next phase, and waits for them before it lets the cancellation go on (the caller then undoes what
they did). A thread's failure is handed back, never swallowed; one item runs in the main thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from bluegreen.cancellation import shielded
from bluegreen.errors import Cancelled, Failure

T = TypeVar("T")
POLL = 0.2
"""Seconds between the main thread's looks at the threads (a signal is handled in between)."""


def at_once(
    items: Sequence[T], work: Callable[[T], None], limit: int, stop: threading.Event | None = None
) -> dict[T, BaseException]:
    """Run `work` on every item, at most `limit` at once; the failures by item (empty: all done).
    A failure sets `stop` (the others stop at their next phase). Cancelled in the main thread:
    `stop` is set, every thread is waited for, then Cancelled is raised."""
    stop = stop or threading.Event()
    if len(items) == 1:
        try:
            work(items[0])
        except Cancelled:
            raise
        except (Failure, Exception) as exc:
            return {items[0]: exc}
        return {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(limit, len(items))), thread_name_prefix="bluegreen-host")
    futures: dict[Future[None], T] = {}
    try:
        futures = {pool.submit(work, item): item for item in items}
        _wait(list(futures), stop)
    except Cancelled:
        stop.set()
        with shielded():  # a second signal waits until every thread has ended
            wait(list(futures))
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {futures[f]: error for f in futures if (error := f.exception()) is not None}


def _wait(futures: list[Future[None]], stop: threading.Event) -> None:
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=POLL, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            stop.set()
