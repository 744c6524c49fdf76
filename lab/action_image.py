"""The base image of the action's Dockerfile, built offline.

No registry can be reached here, so `FROM python:3.11.x-slim-bookworm` cannot be pulled. This
builds an equivalent from Debian bookworm (whose python3 is 3.11) with mmdebstrap, laid out like
the official image (`/usr/local/bin/python`, `pip`, no EXTERNALLY-MANAGED marker), and tags it under
exactly the name the Dockerfile's FROM uses. It also carries this machine's CA bundle and pip
configuration, so a plain `pip install` inside `docker build` reaches PyPI here as it does on GitHub;
nothing of that is in the Dockerfile.

An image of that name that has no recipe label (a real pull) is used as it is. Ours are labelled
with a hash of their recipe and rebuilt when the recipe changes.

`build_action_image()` then builds the action's image itself, as GitHub builds it (`docker build`
of the Dockerfile, no build args). `python -m lab.action_image` prints the base image's name;
`python -m lab.action_image --action` builds the action's image and prints its name.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.mirror import debian_mirror
from lab.recipes import MMDEBSTRAP_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
RECIPE_LABEL = "bluegreen.lab.action-base"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PIP_CONFIGS = (Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"))
LOCK_FILE = Path(tempfile.gettempdir()) / "bluegreen-action-base.lock"
ACTION_IMAGE = "bluegreen-action:lab"

# Run on the host after the tree is installed; "$1" is the tree.
_LAYOUT_HOOKS = (
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    'ln -sf /usr/bin/python3 "$1/usr/local/bin/python"',
    'ln -sf /usr/bin/python3 "$1/usr/local/bin/python3"',
    """printf '#!/bin/sh\\nexec /usr/bin/python3 -m pip "$@"\\n' > "$1/usr/local/bin/pip" """,
    'chmod 755 "$1/usr/local/bin/pip" && ln -sf pip "$1/usr/local/bin/pip3"',
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
)
_IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


def dockerfile_base(dockerfile: Path = DOCKERFILE) -> str:
    """The image named by the Dockerfile's first FROM."""
    match = re.search(r"^FROM\s+(?:--\S+\s+)*(\S+)", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no FROM line in {dockerfile}")
    return match.group(1)


def _host_files() -> list[tuple[Path, Path]]:
    """(host file, path in the image) of the machine's TLS and pip settings that exist here."""
    files = [(CA_BUNDLE, CA_BUNDLE)] if CA_BUNDLE.is_file() else []
    return files + [(p, p) for p in PIP_CONFIGS if p.is_file()]


def _hooks(files: list[tuple[Path, Path]]) -> list[str]:
    copies = [h for src, dst in files for h in (f'mkdir -p "$1{dst.parent}"', f"copy-in {src} {dst.parent}")]
    return [*_LAYOUT_HOOKS, *copies]


def recipe_hash(files: list[tuple[Path, Path]]) -> str:
    contents = [(str(dst), hashlib.sha256(src.read_bytes()).hexdigest()) for src, dst in files]
    parts = [SUITE, sorted(PACKAGES), MMDEBSTRAP_OPTIONS, _hooks(files), _IMPORT_CHANGES, contents]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _label(image: str) -> str | None:
    """The recipe label of a local image, "" for an image without one, None if there is no image."""
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    labels = json.loads(done.stdout or "null") or {}
    return str(labels.get(RECIPE_LABEL, ""))


@contextmanager
def _locked() -> Iterator[None]:
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_base_image(image: str | None = None) -> str:
    """Make sure the Dockerfile's base image exists locally; build it offline if it does not."""
    image = image or dockerfile_base()
    files = _host_files()
    digest = recipe_hash(files)
    with _locked():
        label = _label(image)
        if label == "" or label == digest:  # a real upstream image, or ours and up to date
            return image
        with tempfile.TemporaryDirectory(prefix="bluegreen-action-base-", dir="/var/tmp") as workdir:
            tarball = Path(workdir) / "base.tar"
            command = [
                "mmdebstrap",
                *MMDEBSTRAP_OPTIONS,
                f"--include={','.join(PACKAGES)}",
                *(f"--customize-hook={hook}" for hook in _hooks(files)),
                SUITE,
                str(tarball),
                debian_mirror(),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = "\n".join((done.stderr or done.stdout).splitlines()[-30:])
                raise RuntimeError(f"mmdebstrap failed ({done.returncode}):\n{tail}")
            changes = [*_IMPORT_CHANGES, f"LABEL {RECIPE_LABEL}={digest}"]
            subprocess.run(
                ["docker", "import", *(f"--change={c}" for c in changes), str(tarball), image],
                check=True,
                capture_output=True,
            )
    return image


def _inspect(tag: str, field: str) -> str:
    """One field of a local image (`docker image inspect`), "" when there is no such image."""
    argv = ["docker", "image", "inspect", "--format", f"{{{{{field}}}}}", tag]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def image_id(tag: str) -> str:
    return _inspect(tag, ".Id")


def image_size(tag: str) -> int:
    """The size of a local image in bytes (`docker image inspect`'s Size)."""
    return int(_inspect(tag, ".Size") or "0")


def build_action_image(tag: str = ACTION_IMAGE, timeout: float = 900) -> str:
    """`docker build` of the action's Dockerfile, on the base image ensure_base_image() provides.
    The image a rebuild replaces is removed, so rebuilds leave no dangling ones."""
    ensure_base_image()
    before = image_id(tag)
    done = subprocess.run(
        ["docker", "build", "--quiet", "--tag", tag, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker build of {tag} failed:\n{done.stdout}\n{done.stderr}")
    if before and image_id(tag) != before:
        subprocess.run(["docker", "image", "rm", before], capture_output=True, check=False)
    return tag


if __name__ == "__main__":
    import sys

    print(build_action_image() if "--action" in sys.argv[1:] else ensure_base_image())
