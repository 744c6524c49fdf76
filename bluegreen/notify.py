"""Notifications (`webhook-url`): one JSON POST per deploy or rollback, whatever its outcome.

The body says what happened (status, command, app, colors, image, duration, the failed phase and
the error line, the host, the deploy id, the workflow run's URL) and carries a `text` line, so
Slack's and Mattermost's incoming webhooks take it as it is. A 5xx answer or a connection error is
retried 3 times with backoff; a notification that cannot be delivered is a warning, never a failed
deploy. The URL is a secret: it is never printed. A cancelled run notifies too, within a few
seconds (the cancel's grace time), shielded from the second signal.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bluegreen import __version__, cancellation
from bluegreen.errors import Cancelled, Failure, InputError
from bluegreen.progress import Reporter
from bluegreen.untrusted import printable

if TYPE_CHECKING:
    from bluegreen.result import Result

INPUT = "webhook-url"
RETRY_DELAYS = (0.5, 1.0, 2.0)
"""Seconds before each retry: 3 retries after the first attempt."""
CANCELLED_BUDGET = 5.0
"""Seconds a cancelled run spends notifying, retries included: GitHub sends SIGTERM 7.5 s after
SIGINT and kills 2.5 s later, and the run's own cleanup comes first."""
NOTIFIED_COMMANDS = ("deploy", "rollback")
"""`status` changes nothing: it sends no notification."""


@dataclass(frozen=True)
class Webhook:
    url: str
    timeout: float

    def __repr__(self) -> str:  # never print the URL: it is a secret (Slack's holds a token)
        return f"Webhook(timeout={self.timeout:g})"


def parse_webhook(url: str, timeout: float) -> Webhook | None:
    """The webhook of the inputs (None without a URL), or one InputError that never shows the URL."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url) if url.isprintable() and " " not in url else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            INPUT,
            "is not an http(s) URL",
            "Give the incoming webhook's whole URL, e.g. https://hooks.slack.com/services/...",
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InputError(INPUT, "has a port that is not a number", "Fix the URL") from None
    return Webhook(url, timeout)


def run_url(environ: Mapping[str, str]) -> str:
    """The workflow run's page, when running in GitHub Actions ("" otherwise)."""
    parts = [environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else ""


# ---- the body (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a run did, as the notification tells it."""

    status: str
    """`deployed`, `rolled-back`, `failed` or `cancelled`."""
    command: str
    app: str
    color_before: str
    color_after: str
    image: str
    duration_seconds: float
    hosts: tuple[str, ...]
    deploy_id: str
    run_url: str = ""
    failed_phase: str = ""
    error: str = ""
    """The error's first line ("" on success)."""


def body(outcome: Outcome) -> dict[str, Any]:
    """The JSON object POSTed: every field of the outcome, and `text` for chat webhooks."""
    fields: dict[str, Any] = {
        "status": outcome.status,
        "command": outcome.command,
        "app": outcome.app,
        "color_before": outcome.color_before,
        "color_after": outcome.color_after,
        "image": outcome.image,
        "duration_seconds": round(outcome.duration_seconds, 1),
        "failed_phase": outcome.failed_phase,
        "error": outcome.error,
        "hosts": list(outcome.hosts),
        "deploy_id": outcome.deploy_id,
        "run_url": outcome.run_url,
    }
    return {"text": text(outcome), **fields}


def text(outcome: Outcome) -> str:
    """One message for people, in Markdown both Slack and Mattermost show."""
    where = f" on {', '.join(outcome.hosts)}" if outcome.hosts else ""
    head = f"bluegreen {outcome.command} of `{outcome.app or '?'}`{where}: *{outcome.status}*"
    if outcome.status in ("deployed", "rolled-back"):
        before = outcome.color_before or "none"
        detail = f"{before} → {outcome.color_after}"
        detail += f", image `{outcome.image}`" if outcome.image else ""
    else:
        phase = f" in {outcome.failed_phase}" if outcome.failed_phase else ""
        serving = (
            f"{outcome.color_after} still serves" if outcome.color_after else "the serving color is unknown"
        )
        detail = f"{phase.strip() or 'before it began'}: {outcome.error}; {serving}"
    link = f" ({outcome.run_url})" if outcome.run_url else ""
    return f"{head} ({detail}) after {outcome.duration_seconds:.1f} s{link}"


# ---- sending ------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (a POST turned into a GET would lose the body)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Delivery:
    attempts: int = 0
    delivered: bool = False
    last: str = ""
    """The last answer or error, for the warning."""


def send(
    webhook: Webhook,
    payload: Mapping[str, Any],
    report: Reporter,
    budget: float | None = None,
    delays: Sequence[float] = RETRY_DELAYS,
) -> Delivery:
    """POST the payload; retry a 5xx or a connection error after each delay while `budget` seconds
    (None: no limit) last. Never raises for the webhook's failure: it becomes a warning."""
    data = json.dumps(payload).encode()
    request = urllib.request.Request(
        webhook.url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"bluegreen/{__version__}"},
    )
    opener = urllib.request.build_opener(_NoRedirects)
    deadline = None if budget is None else time.monotonic() + budget
    delivery = Delivery()
    for delay in (*delays, None):
        timeout = webhook.timeout if deadline is None else min(webhook.timeout, deadline - time.monotonic())
        if timeout <= 0:
            break
        delivery.attempts += 1
        retry = _post(opener, request, timeout, delivery)
        if delivery.delivered or not retry or delay is None:
            break
        if deadline is not None and time.monotonic() + delay >= deadline:
            break
        time.sleep(delay)
    if not delivery.delivered:
        report.warning(
            f"the notification was not delivered ({delivery.last}, {delivery.attempts} attempt(s)); "
            "the run's result stands. Check `webhook-url`"
        )
    return delivery


def _post(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float, delivery: Delivery
) -> bool:
    """One attempt; whether a retry may help."""
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            delivery.delivered = 200 <= response.status < 300
            delivery.last = f"HTTP {response.status}"
            return False
    except urllib.error.HTTPError as exc:
        delivery.last = f"HTTP {exc.code}"
        return exc.code >= 500
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        delivery.last = printable(
            f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__, 300
        )
        return True


# ---- around a run -------------------------------------------------------------------------------


@dataclass
class PhaseWatch:
    """A Reporter that passes everything on and remembers the first phase that failed."""

    inner: Reporter
    failed_phase: str = ""

    def phase_started(self, name: str) -> None:
        self.inner.phase_started(name)

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        if not ok and not self.failed_phase:
            self.failed_phase = name  # the innermost: it ends first
        self.inner.phase_ended(name, seconds, ok)

    def info(self, message: str) -> None:
        self.inner.info(message)

    def warning(self, message: str) -> None:
        self.inner.warning(message)


@dataclass
class Notice:
    """The notification of one run: made when the run starts, sent once when it ends."""

    webhook: Webhook | None
    raw: Mapping[str, str]
    report: Reporter
    screen: Callable[[str], str]
    """Secrets out of any text the body carries."""
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    deploy_id: str = field(default_factory=lambda: secrets.token_hex(6))
    started: float = field(default_factory=time.monotonic)

    @property
    def command(self) -> str:
        return (self.raw.get("command") or "").strip() or "deploy"

    @property
    def wanted(self) -> bool:
        return self.webhook is not None and self.command in NOTIFIED_COMMANDS

    def begin(self) -> None:
        if self.wanted:
            self.report.info(f"deploy id {self.deploy_id} (in the notification sent at the end)")

    def succeeded(self, result: Result) -> None:
        if self.wanted:
            self._send(self._outcome(result.status, result.previous_color, result.active_color, result.image))

    def failed(self, exc: Failure, failed_phase: str) -> None:
        if not self.wanted:
            return
        cancelled = isinstance(exc, Cancelled)
        phase = failed_phase or ("inputs" if isinstance(exc, InputError) else "")
        before = exc.live_color if exc.live_color != exc.target_color else ""
        outcome = self._outcome(
            "cancelled" if cancelled else "failed",
            before,
            exc.live_color,
            (self.raw.get("image") or "").strip(),
            failed_phase=phase,
            error=self.screen(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__),
        )
        if cancelled:
            with cancellation.shielded():  # the second signal must not cut the notification short
                self._send(outcome, CANCELLED_BUDGET)
        else:
            self._send(outcome)

    def _outcome(self, status: str, before: str, after: str, image: str, **failure: str) -> Outcome:
        host = (self.raw.get("host") or "").strip()
        return Outcome(
            status=status,
            command=self.command,
            app=(self.raw.get("app-name") or "").strip(),
            color_before=before,
            color_after=after,
            image=image,
            duration_seconds=time.monotonic() - self.started,
            hosts=(host,) if host else (),
            deploy_id=self.deploy_id,
            run_url=run_url(self.environ),
            **failure,
        )

    def _send(self, outcome: Outcome, budget: float | None = None) -> None:
        assert self.webhook is not None
        payload = {k: self.screen(v) if isinstance(v, str) else v for k, v in body(outcome).items()}
        delivery = send(self.webhook, payload, self.report, budget)
        if delivery.delivered:
            self.report.info(f"notification sent ({delivery.last})")
