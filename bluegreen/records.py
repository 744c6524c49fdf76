"""What bluegreen writes down on the host: which color serves (the state file), what each color was
started with (its release record), and an audit line per run.

Reads never trust the file: anything unreadable or malformed counts as missing, with a warning, and
the containers and the live nginx config decide.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bluegreen.colors import COLORS
from bluegreen.errors import UnreadableFile
from bluegreen.host import Host
from bluegreen.layout import Layout
from bluegreen.progress import Reporter
from bluegreen.state import State


@dataclass(frozen=True)
class Release:
    """What one color was started with, kept in its directory: rollback and teardown use this."""

    color: str
    release_id: str
    """Names the directory of this release's files (layout.files_dir)."""
    compose_files: tuple[str, ...]
    """The user's compose files: absolute paths on the host, in `-f` order."""
    environment: dict[str, str]
    """The BLUEGREEN_* variables compose was run with."""
    image: str
    """The `image` input ("" when the compose file's own tags were pulled)."""
    image_ids: dict[str, str] = field(default_factory=dict)
    """Container name -> the image id it runs: the exact bits, whatever a tag points at later."""
    running: tuple[str, ...] = ()
    """Ids of the containers that ran when the color was healthy (finished one-shot tasks excluded)."""
    started_at: str = ""
    actor: str = ""
    nginx_template: str = ""
    """The nginx template text the color was served with ("": recorded by an earlier bluegreen)."""

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Release | None:
        try:
            data: Any = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("color") not in COLORS:
            return None
        files, running = _strings(data.get("compose_files")), _strings(data.get("running"))
        env, ids = _string_map(data.get("environment")), _string_map(data.get("image_ids"))
        if files is None or running is None or env is None or ids is None:
            return None
        return cls(
            color=str(data["color"]),
            release_id=str(data.get("release_id") or ""),
            compose_files=files,
            environment=env,
            image=str(data.get("image") or ""),
            image_ids=ids,
            running=running,
            started_at=str(data.get("started_at") or ""),
            actor=str(data.get("actor") or ""),
            nginx_template=_text_or_empty(data.get("nginx_template")),
        )


def _strings(value: Any) -> tuple[str, ...] | None:
    ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return tuple(value) if ok else None


def _text_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _string_map(value: Any) -> dict[str, str] | None:
    ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return dict(value) if ok else None


class Records:
    """The app's records on one host."""

    def __init__(self, host: Host, layout: Layout, report: Reporter) -> None:
        self.host, self.layout, self.report = host, layout, report

    def _read(self, path: str, what: str) -> bytes | None:
        try:
            return self.host.read_file(path)
        except UnreadableFile as exc:
            self.report.warning(f"{what} is unreadable ({exc}); the containers and nginx decide")
            return None

    def state(self) -> State | None:
        raw = self._read(self.layout.state_file, "the state file")
        if raw is None:
            return None
        state = State.from_json(raw)
        if state is None:
            self.report.warning(
                f"the state file {self.layout.state_file} is malformed; the containers and nginx decide"
            )
        return state

    def write_state(self, state: State) -> None:
        self.host.write_file(self.layout.state_file, state.to_json())

    def release(self, color: str) -> Release | None:
        raw = self._read(self.layout.release_file(color), f"the release record of {color}")
        release = Release.from_json(raw) if raw else None
        return release if release and release.color == color else None

    def write_release(self, release: Release) -> None:
        self.host.write_file(self.layout.release_file(release.color), release.to_json())

    def audit(self, entry: dict[str, str]) -> None:
        self.host.append_file(self.layout.audit_log, (json.dumps(entry) + "\n").encode())
