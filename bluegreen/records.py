"""What bluegreen writes down on the host: which color serves (the state file), what each color was
started with (its release record), and an audit line per run.

Reads never trust the file: anything unreadable or malformed counts as missing, with a warning, and
the containers and the live nginx config decide.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bluegreen.colors import COLORS
from bluegreen.config import IMAGE
from bluegreen.errors import UnreadableFile
from bluegreen.host import Host
from bluegreen.layout import Layout
from bluegreen.progress import Reporter
from bluegreen.state import State
from bluegreen.untrusted import printable


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
    def from_json(cls, raw: bytes, app_dir: str) -> Release | None:
        """Parse a release record; anything malformed counts as no record (see `parse`)."""
        return cls.parse(raw, app_dir)[0]

    @classmethod
    def parse(cls, raw: bytes, app_dir: str) -> tuple[Release | None, str]:
        """The record, or None and what is wrong with it. Never raises.

        The file is the server's word and rollback and the cleanup act on it, so each field must
        look exactly like what bluegreen writes: a release id in bluegreen's format (it names the
        one directory the cleanup keeps), compose files inside the app's directory, hex ids.
        """
        if len(raw) > MAX_RELEASE_BYTES:
            return None, f"it is larger than {MAX_RELEASE_BYTES // 1024} KiB"
        try:
            data: Any = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None, "it is not JSON"
        if not isinstance(data, dict):
            return None, "it is not a JSON object"
        try:
            return cls._checked(data, app_dir), ""
        except _Malformed as exc:
            return None, str(exc)

    @classmethod
    def _checked(cls, data: dict[str, Any], app_dir: str) -> Release:
        return cls(
            color=_field(data, "color", lambda v: v in COLORS),
            release_id=_field(data, "release_id", lambda v: bool(RELEASE_ID.fullmatch(v))),
            compose_files=_items(data, "compose_files", lambda v: _inside(v, app_dir), min_items=1),
            environment=_string_map(data, "environment", ENVIRONMENT_KEY, _is_text),
            image=_field(data, "image", lambda v: v == "" or bool(IMAGE.fullmatch(v))),
            image_ids=_string_map(data, "image_ids", CONTAINER_NAME, lambda v: bool(IMAGE_ID.fullmatch(v))),
            running=_items(data, "running", lambda v: bool(CONTAINER_ID.fullmatch(v))),
            started_at=_text(data.get("started_at")),
            actor=_text(data.get("actor")),
            nginx_template=_template(data.get("nginx_template")),
        )


MAX_RELEASE_BYTES = 256 * 1024
MAX_TEXT = 300
RELEASE_ID = re.compile(r"[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
"""What `new_release_id` makes; nothing else names a release directory."""
CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
IMAGE_ID = re.compile(r"[a-z0-9]+:[0-9a-f]{32,128}")
ENVIRONMENT_KEY = re.compile(r"BLUEGREEN_[A-Z0-9_]{1,64}")
"""Only bluegreen's own variables: a record cannot set PATH, LD_PRELOAD or DOCKER_HOST for compose."""


def new_release_id() -> str:
    """A new release's id (and its directory's name): the UTC time, then 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S-") + secrets.token_hex(3)


class _Malformed(Exception):
    """A field of a release record is missing or not what bluegreen writes."""


def _field(data: dict[str, Any], name: str, valid: Callable[[str], bool]) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not valid(value):
        raise _Malformed(f"its {name} is missing or not what bluegreen writes")
    return value


def _items(
    data: dict[str, Any], name: str, valid: Callable[[str], bool], min_items: int = 0
) -> tuple[str, ...]:
    value = data.get(name)
    if not isinstance(value, list) or len(value) < min_items or len(value) > MAX_ITEMS:
        raise _Malformed(f"its {name} is missing or not what bluegreen writes")
    if not all(isinstance(item, str) and valid(item) for item in value):
        raise _Malformed(f"its {name} holds an entry that is not what bluegreen writes")
    return tuple(value)


def _string_map(
    data: dict[str, Any], name: str, key: re.Pattern[str], valid: Callable[[str], bool]
) -> dict[str, str]:
    value = data.get(name)
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise _Malformed(f"its {name} is missing or not what bluegreen writes")
    for k, v in value.items():
        if not (key.fullmatch(k) and isinstance(v, str) and valid(v)):
            raise _Malformed(f"its {name} holds an entry that is not what bluegreen writes")
    return dict(value)


MAX_ITEMS = 1000
MAX_VALUE = 4096


def _inside(path: str, app_dir: str) -> bool:
    """An absolute path under app_dir, with no `.`, `..` or empty step and no control character."""
    parts = path.removeprefix(f"{app_dir}/").split("/")
    return (
        app_dir.startswith("/")
        and path.startswith(f"{app_dir}/")
        and all(part not in ("", ".", "..") for part in parts)
        and _is_text(path)
    )


def _is_text(value: str) -> bool:
    return len(value) <= MAX_VALUE and printable(value, MAX_VALUE) == value and "\n" not in value


def _text(value: object) -> str:
    return printable(value, MAX_TEXT).replace("\n", " ") if isinstance(value, str) else ""


def _template(value: object) -> str:
    """The nginx template the release was rendered from (bounded by the record's own size cap)."""
    return value if isinstance(value, str) else ""


class Records:
    """The app's records on one host."""

    def __init__(self, host: Host, layout: Layout, report: Reporter) -> None:
        self.host, self.layout, self.report = host, layout, report
        self._warned: set[str] = set()
        """The records already reported as malformed: one warning each per run."""

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
        """The color's release record; None when it is missing or malformed (with a warning)."""
        path = self.layout.release_file(color)
        raw = self._read(path, f"the release record of {color}")
        if raw is None:
            return None
        release, problem = Release.parse(raw, self.layout.app_dir)
        if release is not None and release.color != color:
            problem = f"it names the color {release.color}"
            release = None
        if release is None and path not in self._warned:
            self._warned.add(path)
            self.report.warning(
                f"the release record {path} is malformed ({problem}): {color} counts as having no "
                "release (it cannot be rolled back to; nothing is deleted on its word); the next "
                f"deploy of {color} writes a new one"
            )
        return release

    def write_release(self, release: Release) -> None:
        self.host.write_file(self.layout.release_file(release.color), release.to_json())

    def audit(self, entry: dict[str, str]) -> None:
        self.host.append_file(self.layout.audit_log, (json.dumps(entry) + "\n").encode())
