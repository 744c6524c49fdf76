"""Run one action in many threads at once, for tests of what happens under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_threads(count: int, action: Callable[[], object]) -> list[BaseException]:
    """Start `count` threads running `action`, wait for all; returns what they raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
