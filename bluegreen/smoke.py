"""Smoke paths (`smoke-paths`): requests made on the new color directly, after the health gate and
before the switch; any mismatch keeps the switch from happening.

One per line: `[METHOD] PATH [EXPECTED-STATUS] [~ TEXT]` (GET and any 2xx by default; `~ TEXT`:
the body must contain TEXT). Parsing and judging are pure; `run_smoke` makes the requests.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from bluegreen.errors import BluegreenError, InputError
from bluegreen.health import Answer, http_request
from bluegreen.host import Host
from bluegreen.progress import Reporter
from bluegreen.untrusted import decode, printable

INPUT = "smoke-paths"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
LINE = re.compile(r"^(?:(?P<method>[A-Za-z]+)\s+)?(?P<path>\S+)(?:\s+(?P<status>\S+))?$")
BODY_SHOWN = 200
FORMAT = "Write one `[METHOD] PATH [STATUS] [~ TEXT]` per line, e.g. `GET /api/items 200 ~ items`"


@dataclass(frozen=True)
class SmokePath:
    method: str
    path: str
    status: int | None
    """The status expected; None: any 2xx."""
    text: str
    """Text the body must contain ("": anything)."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def expected(self) -> str:
        status = str(self.status) if self.status is not None else "2xx"
        return f"{status} ~ {self.text!r}" if self.text else status


@dataclass(frozen=True)
class SmokeCheck:
    """One smoke path's result (one log line; a row of the job summary)."""

    method: str
    path: str
    expected: str
    answer: str
    """`HTTP 200`, or why there was no answer."""
    ok: bool
    milliseconds: int
    body: str = ""
    """The first bytes of the body, printable (for a mismatch)."""

    def line(self) -> str:
        verdict = "ok" if self.ok else f"FAILED (expected {self.expected})"
        return f"smoke: {self.method} {self.path} -> {self.answer} in {self.milliseconds} ms: {verdict}"


def parse_smoke_paths(text: str) -> tuple[SmokePath, ...]:
    """The smoke paths of the input (blank lines and # comments skipped), or one InputError."""
    paths = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        paths.append(_parse_line(line, number))
    return tuple(paths)


def _parse_line(line: str, number: int) -> SmokePath:
    request, tilde, text = line.partition("~")
    text = text.strip()
    if tilde and not text:
        raise InputError(INPUT, f"line {number} has `~` but no text after it", FORMAT)
    found = LINE.fullmatch(request.strip())
    if found is None:
        raise InputError(INPUT, f"line {number} is {line!r}", FORMAT)
    method = (found["method"] or "GET").upper()
    if method not in METHODS:
        raise InputError(
            INPUT, f"line {number} has the method {found['method']!r}", f"Use one of: {', '.join(METHODS)}"
        )
    path = found["path"]
    if not PATH.fullmatch(path):
        raise InputError(
            INPUT,
            f"line {number} has the path {path!r}",
            "Give a URL path starting with '/' (percent-encode spaces), e.g. /api/items?limit=1",
        )
    status = found["status"]
    if status is not None and not (status.isdigit() and 100 <= int(status) <= 599):
        raise InputError(
            INPUT, f"line {number} expects the status {status!r}", "Give an HTTP status from 100 to 599"
        )
    return SmokePath(method, path, int(status) if status else None, text)


def judge(smoke: SmokePath, answer: Answer | str, milliseconds: int) -> SmokeCheck:
    """Whether the answer is what the smoke path expects (pure)."""
    common = {"method": smoke.method, "path": smoke.path, "expected": smoke.expected}
    if not isinstance(answer, Answer):
        return SmokeCheck(**common, answer=answer, ok=False, milliseconds=milliseconds)
    body = decode(answer.body)
    status_ok = answer.status == smoke.status if smoke.status is not None else answer.ok
    ok = status_ok and smoke.text in body
    shown = "" if ok else printable(body[:BODY_SHOWN], BODY_SHOWN)
    return SmokeCheck(**common, answer=str(answer), ok=ok, milliseconds=milliseconds, body=shown)


def failure_message(color: str, host: str, checks: list[SmokeCheck]) -> str:
    """The one error when some smoke path failed: the first failure, in full."""
    failed = [check for check in checks if not check.ok]
    first = failed[0]
    others = f" ({len(failed) - 1} more smoke path(s) failed, see the log)" if len(failed) > 1 else ""
    body = f"; body: {first.body}" if first.body else ""
    return (
        f"smoke test failed on {color} at {host}, before the switch (nginx was not touched): "
        f"{first.method} {first.path} answered {first.answer}, expected {first.expected}{body}{others}"
    )


def run_smoke(
    host: Host, color: str, port: int, paths: tuple[SmokePath, ...], timeout: float, report: Reporter
) -> tuple[SmokeCheck, ...]:
    """Each smoke path once, in order, on the color's port through the connection; all are made
    (each one a line of the log), then the first failure fails the deploy."""
    checks = []
    for smoke in paths:
        started = time.monotonic()
        answer = _request(host, port, smoke, timeout)
        check = judge(smoke, answer, round((time.monotonic() - started) * 1000))
        (report.info if check.ok else report.warning)(check.line())
        checks.append(check)
    if not all(check.ok for check in checks):
        raise BluegreenError(failure_message(color, host.name, checks))
    return tuple(checks)


def _request(host: Host, port: int, smoke: SmokePath, timeout: float) -> Answer | str:
    try:
        return http_request(lambda: host.connect_tcp(port, timeout), smoke.path, timeout, smoke.method)
    except BluegreenError:
        raise  # the connection itself failed: not a smoke result
    except Exception as exc:  # OSError, EOFError, and http.client's own hierarchy
        detail = printable(str(exc), 200)
        return f"no answer ({type(exc).__name__}{': ' + detail if detail else ''})"
