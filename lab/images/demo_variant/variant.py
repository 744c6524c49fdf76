"""The demo app, made worse for canary tests (APP_FLAVOUR): `flaky` answers 500 to about 20 % of
the requests, `slow` adds about 200 ms to each; /health answers as the demo app's does."""

from __future__ import annotations

import importlib
import random
import sys
import time
from typing import Any

sys.path.insert(0, "/app")
demo_app: Any = importlib.import_module("demo_app")  # beside this file in the image

ERROR_SHARE = 0.2
DELAY_SECONDS = 0.2
plain_answer = demo_app.Handler.answer


def answer(self: Any, status: int, body: dict[str, str | int]) -> None:
    if not self.path.startswith("/health"):
        if demo_app.FLAVOUR == "flaky" and random.random() < ERROR_SHARE:
            status, body = 500, {"error": "flaky", "version": demo_app.VERSION, "color": demo_app.COLOR}
        elif demo_app.FLAVOUR == "slow":
            time.sleep(DELAY_SECONDS)
    plain_answer(self, status, body)


demo_app.Handler.answer = answer

if __name__ == "__main__":
    demo_app.main()
