"""What a release publishes, and the action.yml it tags: one function for both, so they agree.

    python3 -m tools.release plan VERSION REPOSITORY      # GITHUB_OUTPUT lines (see Release)
    python3 -m tools.release rewrite VERSION REPOSITORY   # point ./action.yml at the released image

On main, action.yml says `image: Dockerfile` (GitHub builds the action on every run). A release
pushes the image as ghcr.io/<owner>/<name>:vX.Y.Z (and :vX.Y, :vX), then tags a commit whose
action.yml says `image: docker://ghcr.io/<owner>/<name>:vX.Y.Z`, so `uses: <owner>/<name>@vX`
pulls that image instead of building. Standard library only: it runs before any setup.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VERSION = re.compile(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
UNRELEASED_IMAGE = re.compile(r"^(runs:\n(?:  .*\n)*?  image: )Dockerfile$", re.MULTILINE)


@dataclass(frozen=True)
class Release:
    image: str
    """ghcr.io/<owner>/<name>, lowercase as ghcr.io requires."""
    versions: tuple[str, ...]
    """vX.Y.Z, vX.Y and vX: the git tags moved to the release commit and the image's tags."""
    tags: tuple[str, ...]
    """Every image reference pushed."""
    action_image: str
    """What the released action.yml runs: the exact version's image."""


def plan(version: str, repository: str) -> Release:
    found = VERSION.fullmatch(version)
    if not found:
        raise ValueError(f"version {version!r} is not vMAJOR.MINOR.PATCH")
    if not REPOSITORY.fullmatch(repository):
        raise ValueError(f"repository {repository!r} is not OWNER/NAME")
    major, minor, _ = found.groups()
    image = f"ghcr.io/{repository.lower()}"
    versions = (version, f"v{major}.{minor}", f"v{major}")
    return Release(
        image=image,
        versions=versions,
        tags=tuple(f"{image}:{tag}" for tag in versions),
        action_image=f"docker://{image}:{version}",
    )


def released_action_yml(text: str, release: Release) -> str:
    """action.yml with `runs.image: Dockerfile` replaced by the released image, all else kept."""
    rewritten, count = UNRELEASED_IMAGE.subn(lambda found: found[1] + release.action_image, text)
    if count != 1:
        raise ValueError("action.yml has no `runs:` block with `image: Dockerfile`")
    return rewritten


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in ("plan", "rewrite"):
        print(__doc__, file=sys.stderr)
        return 2
    command, version, repository = args
    try:
        release = plan(version, repository)
        if command == "plan":
            print(f"image={release.image}")
            print(f"versions={' '.join(release.versions)}")
            print(f"tags={','.join(release.tags)}")
            print(f"action-image={release.action_image}")
        else:
            action = Path("action.yml")
            action.write_text(released_action_yml(action.read_text(), release))
    except (ValueError, OSError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
