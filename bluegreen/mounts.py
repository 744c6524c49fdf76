"""The proxy's extra mounts (`proxy-volumes`) written the way Docker stores them, so that what the
inputs ask for and what a running container mounts compare equal (pure)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any


def normal_volume(spec: str) -> str:
    """`host:container[:ro]` with both paths as Docker keeps them: `/srv/certs/` is `/srv/certs`
    (Docker stores a mount's paths cleaned), and `:rw`, the default, left out."""
    parts = spec.split(":")
    paths = [posixpath.normpath(part) for part in parts[:2]]
    return ":".join([*paths, *(mode for mode in parts[2:] if mode != "rw")])


def bind_mounts(mounts: Iterable[Mapping[str, Any]], skip: str) -> set[str]:
    """A container's bind mounts (`docker inspect`'s Mounts) as normal volumes, except the one at
    `skip`. Volumes the image declares (anonymous volumes) are no `proxy-volumes` and are left out."""
    return {
        normal_volume(f"{m.get('Source')}:{m.get('Destination')}" + ("" if m.get("RW", True) else ":ro"))
        for m in mounts
        if m.get("Type", "bind") == "bind" and m.get("Destination") != skip
    }
